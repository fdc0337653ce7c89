// wick bench --profile: where a training step's time goes, layer by layer (forward timed around
// each module, backward through autograd's observer), with GFLOP/s against the measured sgemm
// peak and a compulsory-traffic estimate against the measured memory bandwidth (a roofline).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "bench.h"
#include "core/blas.h"
#include "core/kernels/gemm.h"

namespace wick::cli {
namespace {

// One line of the profile: a layer, or a part of the step outside the layers.
struct Row {
  std::string label;
  std::vector<double> fwd, bwd;        // seconds in each measured step
  bool phased = true;                  // false: one time (kept in fwd), not a forward/backward pair
  double flops_fwd = 0, flops_bwd = 0; // the GEMM work of Conv2d and Linear (2*M*N*K per product)
  double bytes = 0;                    // compulsory traffic, forward + backward (see describe)
  double fwd_ms = 0, bwd_ms = 0;       // medians, filled at the end
  double ms() const { return fwd_ms + bwd_ms; }
};

// GFLOP/s of 4 runs of wick::gemm on 1024x1024x1024 at the current thread count (after one more
// to warm up), added to `rates`.
void sgemm_rates(std::vector<double>& rates) {
  const int64_t n = 1024;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  for (int r = 0; r < 5; ++r) {
    auto start = Clock::now();
    gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    double s = seconds_since(start);
    if (r > 0) rates.push_back(2.0 * static_cast<double>(n * n * n) / s / 1e9);
  }
}

// GFLOP/s of 4 timings of the register-only AVX-512 FMA loop on every worker thread at once (one
// chunk per thread), added to `rates`; nothing on a CPU without AVX-512.
void fma_rates(std::vector<double>& rates) {
  if (!kernels::cpu_has_avx512()) return;
  const int threads = get_num_threads();
  const int64_t iters = int64_t(1) << 22;
  for (int r = 0; r < 5; ++r) {
    std::atomic<int64_t> flops{0};
    auto start = Clock::now();
    parallel_for(0, threads, 1, [&](int64_t, int64_t) { flops += kernels::avx512_fma_probe(iters); });
    double s = seconds_since(start);
    if (r > 0) rates.push_back(static_cast<double>(flops.load()) / s / 1e9);
  }
}

// GB/s of 4 timings of the triad a = b + 3c over three arrays of n floats each (12 bytes per
// element moved) on the worker threads, `inner` times per timing, added to `rates`.
void triad_rates(int64_t n, int inner, std::vector<double>& rates) {
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  for (int r = 0; r < 5; ++r) {
    auto start = Clock::now();
    for (int i = 0; i < inner; ++i)
      parallel_for(0, n, 1 << 15, [&](int64_t i0, int64_t i1) {
        for (int64_t k = i0; k < i1; ++k) a[k] = b[k] + 3.0f * c[k];
      });
    double s = seconds_since(start);
    if (r > 0) rates.push_back(12.0 * static_cast<double>(n) * inner / s / 1e9);
  }
}

// The machine's roofs, measured before and after the profiled steps (medians of both), so that
// load changing during the run weighs on them as on the steps.
struct Roofs {
  std::vector<double> fma, peak, dram, cache;  // GFLOP/s, GFLOP/s, GB/s, GB/s
  void measure() {
    fma_rates(fma);
    sgemm_rates(peak);
    triad_rates(int64_t(16) << 20, 1, dram);  // 3 x 64 MiB: far beyond the caches
    triad_rates(int64_t(1) << 19, 20, cache);  // 3 x 2 MiB: stays in L2/L3
  }
};

// One backward op over the measured steps.
struct OpStat {
  double seconds = 0;
  int64_t nodes = 0;
  std::set<size_t> rows;  // the profile rows whose nodes these were
};

// Gives every graph node reachable from `out` that no earlier layer owns to `row`.
void claim_nodes(const Tensor& out, size_t row, std::unordered_map<const Node*, size_t>& owner) {
  std::vector<const Node*> stack;
  if (out.grad_fn()) stack.push_back(out.grad_fn().get());
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    if (!owner.emplace(node, row).second) continue;
    for (const Edge& e : node->next)
      if (e.node) stack.push_back(e.node.get());
  }
}

std::string per_image_shape(const Tensor& t) {
  std::string s;
  for (int64_t d = 1; d < t.dim(); ++d) s += (d > 1 ? "x" : "") + std::to_string(t.size(d));
  return s;
}

// Labels the row of layer model[i] (the Identity slots a fusion emptied after it get rows of their
// own, "in row i") and counts its work from the shapes it saw and produced. The compulsory
// traffic reads each tensor once and writes each result once, in float32: forward x, y and the
// parameters; backward dL/dy, the saved input, dL/dx (when x needs it), the parameters and their
// gradients.
void describe(Row& r, const nn::SequentialImpl& model, size_t i, const Tensor& x, const Tensor& y) {
  nn::Module& m = *model[i];
  r.label = model.named_children()[i].first + " " + m.type_name() + " -> " + per_image_shape(y);
  if (y.same_storage(x)) return;  // a view (Flatten): no work
  double params = 0;
  for (const Tensor& p : m.parameters()) params += static_cast<double>(p.numel());
  const double nx = static_cast<double>(x.numel()), ny = static_cast<double>(y.numel());
  const bool grad_x = x.requires_grad();
  r.bytes = 4.0 * (nx + ny + params) + 4.0 * (ny + nx + (grad_x ? nx : 0) + 2 * params);
  // Conv2d and Linear multiply-adds (a container's: those of its layers), each counted twice;
  // backward repeats that work once for dL/dw and once more for dL/dx.
  Shape sample(x.shape().begin() + 1, x.shape().end());
  r.flops_fwd = nn::forward_cost(m, sample).flops * static_cast<double>(x.size(0));
  r.flops_bwd = r.flops_fwd * (grad_x ? 2.0 : 1.0);
}

// Clears the observer however the profile ends.
struct ObserverGuard {
  ~ObserverGuard() { set_backward_observer(nullptr); }
};

}  // namespace

int run_profile(const BenchArgs& a, const Data& data) {
  const int64_t warmup = a.warmup >= 0 ? a.warmup : 5;
  const int64_t steps = (a.steps > 0 ? a.steps : 20) * a.repeats;
  TrainSetup s(a, data, a.profile_batch);
  auto* top = dynamic_cast<nn::SequentialImpl*>(&s.model());
  WICK_CHECK(top, "bench --profile: times the layers of a Sequential, and ", a.model, " is a ", s.model().type_name(),
             " (run the workloads instead)");
  nn::SequentialImpl& model = *top;
  const size_t layers = model.size();
  // Rows: the loader's wait, each layer, the loss, the engine's own work, zero_grad, the SGD step.
  const size_t kData = 0, kLoss = layers + 1, kEngine = layers + 2, kZero = layers + 3, kStep = layers + 4;
  std::vector<Row> rows(layers + 5);
  rows[kData].label = "data loader wait";
  rows[kLoss].label = "loss cross_entropy";
  rows[kEngine].label = "autograd engine";
  rows[kZero].label = "zero_grad";
  rows[kStep].label = "optimizer step (SGD)";
  for (size_t k : {kData, kZero, kStep}) rows[k].phased = false;

  std::unordered_map<const Node*, size_t> owner;
  std::vector<double> fwd(rows.size()), bwd(rows.size()), step_ms;
  double backward_sum = 0;  // backward wall seconds over the measured steps
  std::map<std::string, OpStat> by_op;
  bool measuring = false;
  ObserverGuard guard;
  set_backward_observer([&](const Node& node, double seconds) {
    auto it = owner.find(&node);
    size_t row = it == owner.end() ? kEngine : it->second;
    bwd[row] += seconds;
    if (!measuring) return;
    OpStat& op = by_op[node.name];
    op.seconds += seconds;
    ++op.nodes;
    op.rows.insert(row);
  });
  Roofs roofs;
  roofs.measure();

  for (int64_t step = 0; step < warmup + steps; ++step) {
    measuring = step >= warmup;
    std::fill(fwd.begin(), fwd.end(), 0.0);
    std::fill(bwd.begin(), bwd.end(), 0.0);
    owner.clear();
    auto step_start = Clock::now();
    auto t = step_start;
    data::Batch& b = s.next_batch();
    fwd[kData] = seconds_since(t);
    Tensor x = b.data;
    for (size_t i = 0; i < layers;) {  // as model.forward, one layer per row
      size_t ran = 1;  // the layer and the slots its fusion emptied
      while (i + ran < layers && dynamic_cast<nn::IdentityImpl*>(model[i + ran].get())) ++ran;
      t = Clock::now();
      Tensor y = model[i]->forward(x);
      fwd[1 + i] = seconds_since(t);
      claim_nodes(y, 1 + i, owner);
      if (step == 0) {
        describe(rows[1 + i], model, i, x, y);
        for (size_t k = i + 1; k < i + ran; ++k) {
          rows[1 + k].label = model.named_children()[k].first + " " + model[k]->type_name() + ": in row " +
                              model.named_children()[i].first;
          rows[1 + k].phased = false;
        }
      }
      x = y;
      i += ran;
    }
    t = Clock::now();
    Tensor loss = cross_entropy(x, b.target);
    fwd[kLoss] = seconds_since(t);
    claim_nodes(loss, kLoss, owner);
    t = Clock::now();
    s.optimizer().zero_grad();
    fwd[kZero] = seconds_since(t);
    t = Clock::now();
    loss.backward();
    double backward_s = seconds_since(t);
    t = Clock::now();
    s.optimizer().step();
    fwd[kStep] = seconds_since(t);
    WICK_CHECK(std::isfinite(loss.item<double>()), "bench: training diverged (the loss is not finite)");
    double observed = 0;
    for (double v : bwd) observed += v;
    bwd[kEngine] += backward_s - observed;
    if (!measuring) continue;
    backward_sum += backward_s;
    by_op["(autograd engine)"].seconds += backward_s - observed;
    step_ms.push_back(1e3 * seconds_since(step_start));
    for (size_t k = 0; k < rows.size(); ++k) {
      rows[k].fwd.push_back(fwd[k]);
      rows[k].bwd.push_back(bwd[k]);
    }
  }

  roofs.measure();
  double total_ms = 0;
  for (Row& r : rows) {
    r.fwd_ms = 1e3 * summarize(r.fwd).median;
    r.bwd_ms = 1e3 * summarize(r.bwd).median;
    total_ms += r.ms();
  }
  const double sgemm = summarize(roofs.peak).median;
  // %peak and the machine balance use the FMA peak where it was measured (AVX-512), else sgemm's.
  const double fma = roofs.fma.empty() ? 0.0 : summarize(roofs.fma).median;
  const double peak = fma > 0 ? fma : sgemm;
  const double dram = summarize(roofs.dram).median, cache = summarize(roofs.cache).median;
  const double balance = peak / dram;  // FLOP per byte where the DRAM roof meets the compute roof
  const double step_median = summarize(step_ms).median;
  const int threads = get_num_threads();

  std::printf("wick bench --profile: %s training step, batch %lld, %d thread%s, medians of %lld steps "
              "(after %lld warm-up)\n",
              a.model.c_str(), static_cast<long long>(a.profile_batch), threads, threads == 1 ? "" : "s", static_cast<long long>(steps),
              static_cast<long long>(warmup));
  if (fma > 0)
    std::printf("FMA peak %.1f GFLOP/s (a register-only AVX-512 FMA loop on every thread); ", fma);
  std::printf("sgemm peak %.1f GFLOP/s (wick::gemm 1024^3, %s kernel); memory bandwidth (triad) %.1f GB/s from DRAM "
              "(3 x 64 MiB), %.1f GB/s in cache (3 x 2 MiB)\n",
              sgemm, gemm_kernel_name(gemm_kernel()), dram, cache);
  std::printf("step %.2f ms median wall time (%.0f img/s); the rows sum to %.2f ms\n\n", step_median,
              1e3 * static_cast<double>(a.profile_batch) / step_median, total_ms);
  std::printf("%-32s %8s %8s %8s %6s %8s %8s %8s %6s %7s %6s  %s\n", "layer", "fwd ms", "bwd ms", "total", "share",
              "MFLOP", "GF/s fwd", "GF/s bwd", "%peak", "MB", "GB/s", "bound");
  nlohmann::json jrows = nlohmann::json::array();
  for (const Row& r : rows) {
    char fwd_s[16] = "-", bwd_s[16] = "-", gemm_s[64] = "", traffic[48] = "";
    if (r.phased) {
      std::snprintf(fwd_s, sizeof fwd_s, "%.3f", r.fwd_ms);
      std::snprintf(bwd_s, sizeof bwd_s, "%.3f", r.bwd_ms);
    }
    const double flops = r.flops_fwd + r.flops_bwd;
    if (flops > 0)
      std::snprintf(gemm_s, sizeof gemm_s, " %8.1f %8.1f %8.1f %5.1f%%", flops / 1e6, r.flops_fwd / r.fwd_ms / 1e6,
                    r.flops_bwd / r.bwd_ms / 1e6, 100.0 * flops / r.ms() / 1e6 / peak);
    else
      std::snprintf(gemm_s, sizeof gemm_s, " %8s %8s %8s %6s", "", "", "", "");
    const char* bound = r.bytes == 0 ? "" : flops / r.bytes > balance ? "compute" : "memory";
    if (r.bytes > 0) std::snprintf(traffic, sizeof traffic, " %7.1f %6.1f", r.bytes / 1e6, r.bytes / r.ms() / 1e6);
    else std::snprintf(traffic, sizeof traffic, " %7s %6s", "", "");
    std::printf("%-32s %8s %8s %8.3f %5.1f%%%s%s  %s\n", r.label.c_str(), fwd_s, bwd_s, r.ms(), 100.0 * r.ms() / total_ms,
                gemm_s, traffic, bound);
    nlohmann::json j{{"name", r.label}, {"ms", r.ms()}, {"share", r.ms() / total_ms}};
    if (r.phased) j.update({{"fwd_ms", r.fwd_ms}, {"bwd_ms", r.bwd_ms}});
    if (flops > 0) j.update({{"flops_fwd", r.flops_fwd}, {"flops_bwd", r.flops_bwd}, {"gflops", flops / r.ms() / 1e6}});
    if (r.bytes > 0) j.update({{"bytes", r.bytes}, {"gbs", r.bytes / r.ms() / 1e6}, {"bound", bound}});
    jrows.push_back(j);
  }

  const double backward_ms = 1e3 * backward_sum / static_cast<double>(steps);
  std::printf("\nbackward by op: nodes per step, mean ms per step, share of the mean backward (%.2f ms), layers\n",
              backward_ms);
  nlohmann::json jops = nlohmann::json::array();
  std::vector<std::pair<std::string, OpStat>> ops(by_op.begin(), by_op.end());
  std::sort(ops.begin(), ops.end(), [](const auto& p, const auto& q) { return p.second.seconds > q.second.seconds; });
  for (const auto& [name, op] : ops) {
    const double ms = 1e3 * op.seconds / static_cast<double>(steps);
    const double nodes = static_cast<double>(op.nodes) / static_cast<double>(steps);
    std::string where;
    for (size_t row : op.rows)
      where += (where.empty() ? "" : ", ") +
               (row >= 1 && row <= layers ? model.named_children()[row - 1].first : rows[row].label);
    std::printf("  %-18s %4.0f %8.3f %6.1f%%  %s\n", name.c_str(), nodes, ms, 100.0 * ms / backward_ms, where.c_str());
    jops.push_back({{"op", name}, {"nodes", nodes}, {"ms", ms}});
  }
  std::printf("\nGF/s: conv and linear GEMM work (2*M*N*K per product: forward, dL/dx, dL/dw) per second; %%peak of\n"
              "the %s peak above. MB: compulsory traffic of forward + backward (each tensor read or written\n"
              "once); bound: compute when FLOP/byte exceeds the machine balance %.1f (peak / DRAM bandwidth).\n",
              fma > 0 ? "FMA" : "sgemm", balance);
  if (a.json)
    std::cout << nlohmann::json{{"profile",
                                 {{"batch", a.profile_batch}, {"threads", threads}, {"steps", steps},
                                  {"warmup", warmup}, {"sgemm_peak_gflops", sgemm}, {"fma_peak_gflops", fma}, {"dram_gbs", dram},
                                  {"cache_gbs", cache}, {"step_ms", step_median}, {"rows", jrows},
                                  {"backward_ops", jops}}}}
                     .dump()
              << std::endl;
  return 0;
}

}  // namespace wick::cli
