// Matrix products through BLAS.
#pragma once
#include "../tensor.h"

namespace wick {

// torch.matmul semantics: 1-D x 1-D is a dot product; 2-D x 2-D a matrix product; N-D operands
// are batches of matrices whose leading (batch) dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace wick
