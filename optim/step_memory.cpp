// measure_step_memory (two probe steps against the allocator's peak), available_memory (procfs
// and the cgroup limit) and check_step_fits.
#include "optim/step_memory.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>
#include <string>

#include "core/allocator.h"
#include "core/warning.h"
#include "core/ops/loss.h"
#include "layers/mode_guard.h"

namespace wick::train {
namespace {

// The peak tensor bytes of forward, loss and backward on the first n images of `data`.
double probe(nn::Module& model, const data::Dataset& data, int64_t n) {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), int64_t{0});
  data::Batch batch = data.get_batch(indices);
  std::vector<Tensor> params = model.parameters(), grads;
  for (const Tensor& p : params) grads.push_back(p.grad());
  const size_t before = buffer_stats().in_use;
  reset_buffer_peak();
  {
    Tensor loss = cross_entropy(model.forward(batch.data), batch.target);
    if (loss.requires_grad()) loss.backward();
  }
  const double peak = static_cast<double>(buffer_stats().peak_in_use - before);
  for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(grads[i]);
  return peak;
}

// A "MemAvailable:  123 kB" line's bytes, or 0.
uint64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

// The cgroup v2 (memory.max) or v1 (memory.limit_in_bytes) limit minus what the group uses, or 0.
uint64_t cgroup_available() {
  for (auto [limit_file, usage_file] : {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
                                        std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                                  "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    uint64_t limit = 0, usage = 0;
    std::ifstream l(limit_file), u(usage_file);
    if (l >> limit && u >> usage && limit > usage && limit < (uint64_t{1} << 60)) return limit - usage;
  }
  return 0;
}

// "194 GiB", "3.3 MiB".
std::string size_text(double bytes) {
  const bool gib = bytes >= static_cast<double>(1 << 30);
  std::ostringstream os;
  os.precision(3);
  os << bytes / static_cast<double>(gib ? 1 << 30 : 1 << 20) << (gib ? " GiB" : " MiB");
  return os.str();
}

// Silences warnings while alive (the probes' BatchNorms may not have seen data yet).
struct QuietWarnings {
  std::function<void(const std::string&)> previous = set_warning_handler([](const std::string&) {});
  ~QuietWarnings() { set_warning_handler(previous); }
};

}  // namespace

StepMemory measure_step_memory(nn::Module& model, const data::Dataset& data) {
  const int64_t large = std::min<int64_t>(32, data.size()), small = large / 2;
  if (small < 1) return {};
  nn::ModeGuard eval(model, false);
  QuietWarnings quiet;
  const double a = probe(model, data, small), b = probe(model, data, large);
  StepMemory m;
  m.per_image = std::max(0.0, (b - a) / static_cast<double>(large - small));
  m.fixed = std::max(0.0, a - m.per_image * static_cast<double>(small));
  return m;
}

uint64_t available_memory() {
  const uint64_t mem = meminfo_available(), group = cgroup_available();
  if (mem == 0 || group == 0) return std::max(mem, group);
  return std::min(mem, group);
}

void check_step_fits(nn::Module& model, const data::Dataset& data, int64_t batch, const char* what,
                     uint64_t available_bytes) {
  const double available = 0.9 * static_cast<double>(available_bytes);
  if (available <= 0) return;
  batch = std::min(batch, data.size());
  const StepMemory m = measure_step_memory(model, data);
  if (m.at(batch) <= available) return;
  const auto fits = static_cast<int64_t>(std::floor((available - m.fixed) / std::max(m.per_image, 1.0)));
  detail::fail(what, " ", batch, ": a training step would need about ", size_text(m.at(batch)), " (", size_text(m.per_image),
               " per image, measured), more than the ", size_text(available), " of memory available; the largest batch that "
               "fits is about ", std::max<int64_t>(fits, 0));
}

}  // namespace wick::train
