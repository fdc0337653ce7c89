// Tensor's method forms (x.sum(), x.argmax(1).eq(y), x.topk(5)): each forwards to the free
// function of the same name, which holds the math.
#include "core/ops/compare.h"
#include "core/ops/reduce.h"
#include "core/tensor.h"

namespace wick {

Tensor Tensor::sum() const { return wick::sum(*this); }
Tensor Tensor::sum(int64_t dim, bool keepdim) const { return wick::sum(*this, {dim}, keepdim); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return wick::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return wick::mean(*this); }
Tensor Tensor::mean(int64_t dim, bool keepdim) const { return wick::mean(*this, {dim}, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return wick::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return wick::max(*this); }
ValuesIndices Tensor::max(int64_t dim, bool keepdim) const {
  return {wick::max(*this, dim, keepdim), wick::argmax(*this, dim, keepdim)};
}
Tensor Tensor::argmax(int64_t dim, bool keepdim) const { return wick::argmax(*this, dim, keepdim); }

Tensor Tensor::eq(const Tensor& other) const { return wick::eq(*this, other); }
Tensor Tensor::ne(const Tensor& other) const { return wick::ne(*this, other); }
Tensor Tensor::lt(const Tensor& other) const { return wick::lt(*this, other); }
Tensor Tensor::le(const Tensor& other) const { return wick::le(*this, other); }
Tensor Tensor::gt(const Tensor& other) const { return wick::gt(*this, other); }
Tensor Tensor::ge(const Tensor& other) const { return wick::ge(*this, other); }
Tensor Tensor::eq(double other) const { return wick::eq(*this, other); }
Tensor Tensor::ne(double other) const { return wick::ne(*this, other); }
Tensor Tensor::lt(double other) const { return wick::lt(*this, other); }
Tensor Tensor::le(double other) const { return wick::le(*this, other); }
Tensor Tensor::gt(double other) const { return wick::gt(*this, other); }
Tensor Tensor::ge(double other) const { return wick::ge(*this, other); }

Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return wick::masked_fill(*this, mask, value); }
ValuesIndices Tensor::topk(int64_t k, int64_t dim, bool largest) const { return wick::topk(*this, k, dim, largest); }
ValuesIndices Tensor::sort(int64_t dim, bool descending) const { return wick::sort(*this, dim, descending); }
Tensor Tensor::argsort(int64_t dim, bool descending) const { return wick::argsort(*this, dim, descending); }

}  // namespace wick
