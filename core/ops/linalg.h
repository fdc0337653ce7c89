// Matrix products through BLAS.
#pragma once
#include "../tensor.h"

namespace wick {

// torch.matmul semantics: 1-D x 1-D is a dot product; 2-D x 2-D a matrix product; N-D operands
// are batches of matrices whose leading (batch) dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// torch.nn.functional.linear: x (..., in) · weightᵀ (weight (out, in)) + bias (out, or undefined)
// -> (..., out). Recorded (and traced) as matmul and add; without a graph, a contiguous 2-D x
// (every Linear in a CNN) takes one product straight into the output and the bias added in place:
// the same bits, without the views and temporaries (at batch 1 they cost more than a small
// layer's arithmetic).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace wick
