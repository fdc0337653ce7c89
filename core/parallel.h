// Threading, the one place wick talks to oneTBB. Work is always cut into fixed chunks that depend
// only on the range and the grain, never on the thread count, and partial results are combined
// in chunk order: so every result is bit-identical at any thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace wick {

// Caps wick's worker threads (oneTBB, through tbb::global_control). OpenBLAS is kept at one
// thread per call, and wick runs GEMMs as fixed blocks on these workers, so the two never
// oversubscribe the cores. n <= 0 means all cores.
void set_num_threads(int n);
int get_num_threads();

// Denormal floats (magnitudes below 1.2e-38) take a slow path on x86: an operation that reads or
// makes one can cost a hundred cycles. On, every thread running wick's work treats them as zero
// (flush-to-zero and denormals-are-zero), as torch.set_flush_denormal(True) does; off by default,
// as in PyTorch. Returns false, changing nothing, on a CPU without the mode.
bool set_flush_denormal(bool on);

// Calls fn(chunk_begin, chunk_end) for [begin, end) cut into chunks of `grain` elements (the last
// may be shorter), in parallel when there are several chunks.
void parallel_for(int64_t begin, int64_t end, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Sums fn(chunk_begin, chunk_end) over the same fixed chunks, adding the partial sums in chunk
// order (deterministic whatever the thread count).
double parallel_sum(int64_t begin, int64_t end, int64_t grain,
                    const std::function<double(int64_t, int64_t)>& fn);

// While one is alive, parallel_for and parallel_sum called on this thread run their chunks on it,
// in order: the same chunks, so the same results. For work already spread over the cores in
// pieces of its own (trace_for_inference's chunks of a batch), whose nested loops would otherwise
// let a waiting thread take up another piece in the middle of its own.
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;
};

// Runs a function on a oneTBB worker in the background (a data loader preparing the next batch).
// wait() blocks until it has finished and rethrows anything it threw; the destructor waits too.
// With one thread the work runs inside wait().
class BackgroundTask {
 public:
  explicit BackgroundTask(std::function<void()> fn);
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;
  void wait();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace wick
