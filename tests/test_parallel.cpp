// Threading: results are bit-identical at 1 and 2 threads, for GEMMs and for reductions; a
// SerialScope keeps a thread's loops on it.
#include <atomic>
#include <thread>

#include "helpers.h"

using namespace wick;

TEST_CASE("set_num_threads is reported back") {
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  set_num_threads(0);
  CHECK(get_num_threads() >= 1);
}

TEST_CASE("set_flush_denormal: denormals are zero on the calling thread and on every worker, until turned off") {
  // 1e-30 * 1e-10 = 1e-40 is a denormal float; flushed, it is 0.
  auto products = [] {
    std::vector<float> out(64);
    volatile float a = 1e-30f, b = 1e-10f;
    parallel_for(0, 64, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = a * b;
    });
    return out;
  };
  set_num_threads(2);
  REQUIRE(set_flush_denormal(true));
  for (float v : products()) CHECK(v == 0.0f);
  set_flush_denormal(false);
  for (float v : products()) CHECK(v > 0.0f);
  set_num_threads(0);
}

TEST_CASE("SerialScope: parallel_for runs the same chunks on the calling thread, in order, until it ends") {
  set_num_threads(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<int64_t> starts;
  bool on_caller = true;
  {
    SerialScope serial;
    parallel_for(3, 40, 8, [&](int64_t b, int64_t e) {
      starts.push_back(b);
      on_caller = on_caller && std::this_thread::get_id() == caller && e == std::min<int64_t>(b + 8, 40);
    });
  }
  CHECK(starts == std::vector<int64_t>{3, 11, 19, 27, 35});
  CHECK(on_caller);
  std::atomic<int> chunks{0};  // after the scope, the workers take the chunks again
  parallel_for(0, 64, 1, [&](int64_t, int64_t) { ++chunks; });
  CHECK(chunks == 64);
  set_num_threads(0);
}

TEST_CASE("parallel_sum combines fixed chunks in order") {
  double total = parallel_sum(0, 100000, 1000, [](int64_t b, int64_t e) { return double(e - b); });
  CHECK(total == 100000.0);
}

TEST_CASE("matmul is bit-identical at 1 and 2 threads, including 1000x1000x1000") {
  manual_seed(1);
  Tensor a = randn({1000, 1000}), b = randn({1000, 1000});
  test::same_bits_at_1_and_2_threads([&] { return matmul(a, b); });
  Tensor x = randn({64, 3136}), w = randn({128, 3136});
  test::same_bits_at_1_and_2_threads([&] { return matmul(x, w.t()); });
}

TEST_CASE("reductions and their gradients are bit-identical at 1 and 2 threads") {
  manual_seed(2);
  Tensor x = randn({64, 32, 28, 28});
  test::same_bits_at_1_and_2_threads([&] { return sum(x); });
  test::same_bits_at_1_and_2_threads([&] { return sum(x, {0, 2, 3}); });
  test::same_bits_at_1_and_2_threads([&] {
    Tensor w = ones({1, 32, 1, 1}).requires_grad_();
    sum(mul(x, w)).backward();
    return w.grad();
  });
}
