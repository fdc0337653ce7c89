// The loops the normalization kernels (batch_norm.cpp, group_norm.cpp) share: rows of values run
// in parallel, each row by one task, and sums in double over eight interleaved accumulators (so
// the adds pipeline and vectorize) combined in lane order. So a row's sums are the same bits
// whatever the thread count.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../parallel.h"

namespace wick::kernels {

// Calls fn(row) for each of `rows` rows of `size` elements, about 32768 elements per task.
template <typename Fn>
void for_rows(int64_t rows, int64_t size, Fn fn) {
  constexpr int64_t kWork = 32768;
  parallel_for(0, rows, std::max<int64_t>(1, kWork / std::max<int64_t>(size, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) fn(r);
  });
}

// Σ f(k) for k in [0, n), in the fixed lane order described above.
template <typename F>
double lane_sum(int64_t n, F f) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += f(k + l);
  for (; k < n; ++k) acc[k % kLanes] += f(k);
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

}  // namespace wick::kernels
