// Reductions over dims (sum, mean, var, max, argmax), with keepdim, and sum_to_shape, which
// undoes broadcasting in backward passes. Sums accumulate in double, in a fixed order.
#pragma once
#include <vector>

#include "../tensor.h"

namespace wick {

Tensor sum(const Tensor& x);  // all elements, 0-d
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Variance with Bessel's correction when unbiased (PyTorch's default).
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false);
Tensor max(const Tensor& x);  // all elements, 0-d; the gradient is shared among tied maxima
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);  // values; the gradient goes to the first max
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64 indices, first max wins

// Sums `g` down to `shape`, the shape it was broadcast from (returns g itself when equal).
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

// Layout shared by the reductions: x permuted so that the reduced dims come last, made
// contiguous, and seen as (outer, inner) rows; out_shape is the result's shape.
struct ReduceRows {
  Tensor rows;  // contiguous, numel = outer * inner
  int64_t outer, inner;
  Shape out_shape;
};
ReduceRows reduce_rows(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op);

}  // namespace wick
