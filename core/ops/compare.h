// Comparisons (eq, ne, lt, le, gt, ge), selection (where, masked_fill) and ordering (topk, sort,
// argsort). Comparisons return float32 masks of 0 and 1 (wick has no bool dtype; a float mask
// multiplies, sums and averages like any other tensor), carry no gradient, and accept float32
// and int64 operands (mixed: both compared as float32, as PyTorch promotes). A mask is true where
// it is nonzero.
#pragma once
#include "../tensor.h"

namespace wick {

// Elementwise a OP b over the broadcast shape: 1 where it holds, 0 elsewhere (NaN: only ne holds).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Against a scalar: a float32 tensor compares with float32(b); an int64 one with b, exactly.
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

// a where cond is nonzero, b elsewhere, over the broadcast shape of the three; a and b float32.
// Differentiable in a and b (each gets the gradient where it was picked), never in cond.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` where mask (broadcast to x's shape) is nonzero; the gradient flows to x elsewhere.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// The k largest (or smallest) entries of float32 x along dim, in order, and their int64 indices;
// both have x's shape with size k at dim. Ties: the lowest index first. NaN counts as larger than
// any number (as PyTorch). The gradient reaches x through the values.
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);
// The whole of dim ordered (stable: equal values keep their order), and the indices alone.
ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);

}  // namespace wick
