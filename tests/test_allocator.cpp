// core/allocator.h: large tensor buffers are cached and reused by size class, small ones come from
// malloc, and a training loop stops mapping memory after its first step.
#include <cstdint>
#include <thread>

#include "helpers.h"

using namespace wick;

namespace {
bool aligned64(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }
}  // namespace

TEST_CASE("a freed large buffer is reused for the next request of its size class") {
  release_cached_buffers();
  const size_t mb = size_t(1) << 20;
  const BufferStats start = buffer_stats();
  void* a = allocate_buffer(3 * mb);
  CHECK(aligned64(a));
  // Held: the request rounded up to its class (under AddressSanitizer, plus a poisoned tail).
  const size_t held = buffer_stats().in_use - start.in_use;
  CHECK(held >= 3 * mb);
  CHECK(held <= 3 * mb + 3 * mb / 8 + 4096);
  free_buffer(a, 3 * mb);
  CHECK(buffer_stats().in_use == start.in_use);
  CHECK(buffer_stats().cached == held);
  void* b = allocate_buffer(3 * mb - 100);  // the same class
  CHECK(b == a);
  CHECK(buffer_stats().cached == 0);
  free_buffer(b, 3 * mb - 100);
  void* c = allocate_buffer(2 * mb);  // a cached buffer up to twice the request's class serves it
  CHECK(c == a);
  const size_t mappings = buffer_stats().mappings;
  void* d = allocate_buffer(mb);  // none cached: a new mapping
  CHECK(d != a);
  CHECK(buffer_stats().mappings == mappings + 1);
  const size_t held_d = buffer_stats().in_use - start.in_use - held;
  free_buffer(c, 2 * mb);
  free_buffer(d, mb);
  CHECK(buffer_stats().in_use == start.in_use);
  CHECK(release_cached_buffers() == held + held_d);
  CHECK(buffer_stats().cached == 0);
  CHECK(buffer_stats().peak_in_use >= start.in_use + held + held_d);
}

TEST_CASE("small buffers come from malloc, 64-byte aligned, outside the cache's accounting") {
  const BufferStats start = buffer_stats();
  for (size_t n : {size_t(0), size_t(1), size_t(100), size_t(4096), size_t(100000)}) {
    void* p = allocate_buffer(n);
    CHECK(aligned64(p));
    free_buffer(p, n);
  }
  CHECK(buffer_stats().in_use == start.in_use);
  CHECK(buffer_stats().cached == start.cached);
}

TEST_CASE("a training loop maps no new memory after its first step") {
  manual_seed(3);
  nn::Sequential model = nn::small_cnn();
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  Tensor x = randn({64, 1, 28, 28});
  Tensor target = randint(0, 10, {64});
  auto step = [&] {
    opt.zero_grad();
    cross_entropy(model->forward(x), target).backward();
    opt.step();
    return buffer_stats().mappings;
  };
  const size_t first = buffer_stats().mappings;
  step();
  const size_t mapped = step();
  CHECK(mapped > first);
  for (int k = 0; k < 3; ++k) CHECK(step() == mapped);
}

TEST_CASE("threads allocating and freeing at once keep the accounting exact") {
  const BufferStats start = buffer_stats();
  auto churn = [](size_t seed) {
    for (size_t k = 0; k < 500; ++k) {
      const size_t n = (size_t(128) << 10) * (1 + (k * 7 + seed) % 5);
      void* p = allocate_buffer(n);
      static_cast<char*>(p)[n - 1] = 1;
      free_buffer(p, n);
    }
  };
  std::thread a(churn, 1), b(churn, 2);
  churn(3);
  a.join();
  b.join();
  CHECK(buffer_stats().in_use == start.in_use);
}
