// oneTBB behind parallel_for / parallel_sum / set_num_threads (see parallel.h for the contract).
#include "core/parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#if defined(__x86_64__)
#include <pmmintrin.h>
#endif

#include <atomic>
#include <exception>
#include <memory>
#include <utility>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace wick {
namespace {

std::mutex control_mutex;
std::unique_ptr<tbb::global_control> control;
int num_threads = 0;  // 0: not set yet, all cores

int all_cores() { return static_cast<int>(tbb::info::default_concurrency()); }

std::atomic<bool> flush_denormal{false};
thread_local int serial_scopes = 0;  // SerialScopes alive on this thread

// Puts this thread's float mode where set_flush_denormal left it: every piece of parallel work
// starts with it, so a worker that joined before the last change follows it too.
void apply_float_mode() {
#if defined(__x86_64__)
  const unsigned mode = flush_denormal.load(std::memory_order_relaxed) ? _MM_FLUSH_ZERO_ON : _MM_FLUSH_ZERO_OFF;
  if (_MM_GET_FLUSH_ZERO_MODE() == mode) return;
  _MM_SET_FLUSH_ZERO_MODE(mode);
  _MM_SET_DENORMALS_ZERO_MODE(mode == _MM_FLUSH_ZERO_ON ? _MM_DENORMALS_ZERO_ON : _MM_DENORMALS_ZERO_OFF);
#endif
}

}  // namespace

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(control_mutex);
  if (n <= 0) n = all_cores();
  control.reset();
  control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  static_cast<size_t>(n));
  num_threads = n;
}

bool set_flush_denormal(bool on) {
#if defined(__x86_64__)
  flush_denormal = on;
  apply_float_mode();
  return true;
#else
  (void)on;
  return false;
#endif
}

int get_num_threads() {
  std::lock_guard<std::mutex> lock(control_mutex);
  return num_threads > 0 ? num_threads : all_cores();
}

void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  WICK_CHECK(grain > 0, "parallel_for: grain must be positive, got ", grain);
  int64_t chunks = (end - begin + grain - 1) / grain;
  apply_float_mode();
  if (chunks == 1 || serial_scopes > 0) {
    for (int64_t c = 0; c < chunks; ++c) fn(begin + c * grain, std::min(end, begin + (c + 1) * grain));
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, chunks, 1),
      [&](const tbb::blocked_range<int64_t>& r) {
        apply_float_mode();
        for (int64_t c = r.begin(); c < r.end(); ++c)
          fn(begin + c * grain, std::min(end, begin + (c + 1) * grain));
      },
      tbb::simple_partitioner());
}

double parallel_sum(int64_t begin, int64_t end, int64_t grain,
                    const std::function<double(int64_t, int64_t)>& fn) {
  if (end <= begin) return 0.0;
  WICK_CHECK(grain > 0, "parallel_sum: grain must be positive, got ", grain);
  int64_t chunks = (end - begin + grain - 1) / grain;
  std::vector<double> partial(static_cast<size_t>(chunks));
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      partial[c] = fn(begin + c * grain, std::min(end, begin + (c + 1) * grain));
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}

SerialScope::SerialScope() { ++serial_scopes; }
SerialScope::~SerialScope() { --serial_scopes; }

struct BackgroundTask::State {
  tbb::task_group group;
  std::exception_ptr error;
  bool waited = false;
};

BackgroundTask::BackgroundTask(std::function<void()> fn) : state_(std::make_unique<State>()) {
  State* s = state_.get();
  s->group.run([s, fn = std::move(fn)] {
    try {
      apply_float_mode();
      fn();
    } catch (...) {
      s->error = std::current_exception();
    }
  });
}

void BackgroundTask::wait() {
  if (state_->waited) return;
  state_->group.wait();
  state_->waited = true;
  if (state_->error) std::rethrow_exception(std::exchange(state_->error, nullptr));
}

BackgroundTask::~BackgroundTask() {
  if (!state_->waited) state_->group.wait();
}

}  // namespace wick
