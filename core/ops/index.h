// Joining and indexing: cat, stack, index_select, gather.
#pragma once
#include <vector>

#include "../tensor.h"

namespace wick {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// index: 1-D int64. Picks slices of x along dim.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// index: int64 with x's number of dims; out[i][j] = x[index[i][j]][j] for dim 0, and so on.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

}  // namespace wick
