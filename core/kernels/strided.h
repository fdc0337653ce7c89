// Walking N operands over one shape with their own strides, a row at a time. The generic engine
// behind copies, broadcasting elementwise ops and strided accumulation; kernels supply the row loop.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "../parallel.h"
#include "../shape.h"

namespace wick::kernels {

template <size_t N>
struct StridedLayout {
  Shape shape;                                   // coalesced, at least 1-D
  std::array<std::vector<int64_t>, N> strides;  // per operand, same length as shape
};

// Drops size-1 dims and merges dims that are contiguous for every operand, so the inner row
// is as long as possible.
template <size_t N>
StridedLayout<N> coalesce(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides) {
  StridedLayout<N> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out.shape.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = out.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      out.shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) out.strides[k].back() = strides[k][d];
    } else {
      out.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) out.strides[k].push_back(strides[k][d]);
    }
  }
  if (out.shape.empty()) {
    out.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) out.strides[k].push_back(0);
  }
  return out;
}

// Calls row(offsets, len, inner_strides) for every row (last coalesced dim) of `shape`, where
// offsets[k] is operand k's element offset at the row start. Rows run in parallel in fixed chunks;
// each row is handled by one call, so row-local work is deterministic.
template <size_t N, typename RowFn>
void for_each_row(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides, RowFn row) {
  if (numel_of(shape) == 0) return;
  StridedLayout<N> l = coalesce<N>(shape, strides);
  const size_t nd = l.shape.size();
  const int64_t len = l.shape[nd - 1];
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = l.strides[k][nd - 1];
  int64_t rows = numel_of(l.shape) / len;
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1));
  parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    // Multi-index of row r0 over the outer dims, then step it like an odometer.
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, N> off{};
    int64_t rem = r0;
    for (size_t d = nd - 1; d-- > 0;) {
      idx[d] = rem % l.shape[d];
      rem /= l.shape[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * l.strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      row(off, len, inner);
      for (size_t d = nd - 1; d-- > 0;) {
        for (size_t k = 0; k < N; ++k) off[k] += l.strides[k][d];
        if (++idx[d] < l.shape[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= l.strides[k][d] * l.shape[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace wick::kernels
