// Views: new shape/stride/offset over the same storage, no copy. Each records a backward that
// routes the output's gradient into the matching elements of the input's gradient.
#include <algorithm>
#include <numeric>

#include "core/autograd.h"
#include "core/ops/reduce.h"
#include "core/trace.h"

namespace wick {
namespace {

Tensor make_view(const Tensor& base, Shape shape, std::vector<int64_t> strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

// Same elements in the same row-major order, another shape: the gradient just takes the
// input's shape again.
Tensor reshaped_view(const Tensor& x, const Shape& shape, const char* op) {
  Tensor out = make_view(x, shape, contiguous_strides(shape), x.offset());
  record(out, op, {x}, [](BackwardCtx& ctx) {
    ctx.grad_in(0).add_(ctx.grad_out().view(ctx.grad_in(0).shape()));
  });
  if (trace::active()) trace::op("reshape", out, {x}, {{"shape", shape}});
  return out;
}

// Resolves one -1 in `shape` against numel.
Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      WICK_CHECK(infer < 0, op, ": only one dimension can be inferred, got ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      WICK_CHECK(out[i] >= 0, op, ": invalid shape dimension ", out[i], " in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    WICK_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(shape),
               " is invalid for input of shape ", shape_str(from));
    out[infer] = numel / known;
  }
  WICK_CHECK(numel_of(out) == numel, op, ": shape ", shape_str(shape), " is invalid for input of shape ",
             shape_str(from), " (", numel, " elements)");
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), this->shape(), "view");
  WICK_CHECK(is_contiguous(), "view: input of shape ", shape_str(this->shape()),
             " is not contiguous; use reshape() (which copies) instead");
  return reshaped_view(*this, s, "view");
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), this->shape(), "reshape");
  return reshaped_view(contiguous(), s, "reshape");
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  int64_t nd = dim();
  if (nd == 0) return reshape({1});
  int64_t s = wrap_dim(start_dim, nd, "flatten"), e = wrap_dim(end_dim, nd, "flatten");
  WICK_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape out(shape().begin(), shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= shape()[d];
  out.push_back(n);
  out.insert(out.end(), shape().begin() + e + 1, shape().end());
  return reshape(out);
}

Tensor Tensor::squeeze() const {
  Shape out;
  for (int64_t d : shape())
    if (d != 1) out.push_back(d);
  return reshape(out);
}

Tensor Tensor::squeeze(int64_t dim) const {
  int64_t d = wrap_dim(dim, this->dim(), "squeeze");
  if (this->dim() == 0 || shape()[d] != 1) return *this;
  Shape s = shape();
  std::vector<int64_t> st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, offset());
  record(out, "squeeze", {*this}, [](BackwardCtx& ctx) {
    ctx.grad_in(0).add_(ctx.grad_out().view(ctx.grad_in(0).shape()));
  });
  if (trace::active()) trace::op("reshape", out, {*this}, {{"shape", s}});
  return out;
}

Tensor Tensor::unsqueeze(int64_t dim) const {
  int64_t d = wrap_dim(dim, this->dim() + 1, "unsqueeze");
  Shape s = shape();
  std::vector<int64_t> st = strides();
  int64_t stride = d < this->dim() ? st[d] * s[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  Tensor out = make_view(*this, s, st, offset());
  record(out, "unsqueeze", {*this}, [](BackwardCtx& ctx) {
    ctx.grad_in(0).add_(ctx.grad_out().view(ctx.grad_in(0).shape()));
  });
  if (trace::active()) trace::op("reshape", out, {*this}, {{"shape", s}});
  return out;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  int64_t nd = dim();
  WICK_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute: got ", dims.size(),
             " dims for a tensor of shape ", shape_str(shape()));
  std::vector<int64_t> wrapped(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape s(dims.size());
  std::vector<int64_t> st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], nd, "permute");
    WICK_CHECK(!used[d], "permute: dim ", d, " appears twice in ", shape_str(dims));
    used[d] = true;
    wrapped[i] = d;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, s, st, offset());
  // Output dim i is input dim wrapped[i]: view the input's gradient the same way and add.
  record(out, "permute", {*this}, [wrapped](BackwardCtx& ctx) {
    ctx.grad_in(0).permute(wrapped).add_(ctx.grad_out());
  });
  if (trace::active()) trace::op("permute", out, {*this}, {{"dims", wrapped}});
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  int64_t nd = dim();
  std::vector<int64_t> dims(static_cast<size_t>(nd));
  std::iota(dims.begin(), dims.end(), 0);
  if (nd == 0) return permute(dims);
  std::swap(dims[wrap_dim(dim0, nd, "transpose")], dims[wrap_dim(dim1, nd, "transpose")]);
  return permute(dims);
}

Tensor Tensor::t() const {
  WICK_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dimensions, got shape ", shape_str(shape()));
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  int64_t d = wrap_dim(dim, this->dim(), "slice");
  WICK_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clampi(start);
  end = std::max(start, clampi(end));
  Shape s = shape();
  std::vector<int64_t> st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  record(out, "slice", {*this}, [d, start, end, step](BackwardCtx& ctx) {
    ctx.grad_in(0).slice(d, start, end, step).add_(ctx.grad_out());
  });
  return out;
}

Tensor Tensor::narrow(int64_t dim, int64_t start, int64_t length) const {
  int64_t d = wrap_dim(dim, this->dim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  WICK_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " length ",
             length, " out of range for dim ", d, " of size ", n, " (shape ", shape_str(shape()), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t dim, int64_t index) const {
  int64_t d = wrap_dim(dim, this->dim(), "select");
  int64_t n = shape()[d];
  WICK_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d,
             " of size ", n);
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape) const {
  WICK_CHECK(shape.size() >= this->shape().size(), "expand: cannot expand shape ",
             shape_str(this->shape()), " to ", shape_str(shape));
  Shape target = shape;
  size_t lead = shape.size() - this->shape().size();
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      WICK_CHECK(i >= lead, "expand: -1 not allowed in a new leading dimension, got ", shape_str(shape));
      target[i] = this->shape()[i - lead];
    }
    WICK_CHECK(i < lead || this->shape()[i - lead] == 1 || this->shape()[i - lead] == target[i],
               "expand: the expanded size ", target[i], " must match the existing size ",
               (i < lead ? 0 : this->shape()[i - lead]), " at dimension ", i, " (", shape_str(this->shape()),
               " to ", shape_str(shape), ")");
  }
  Tensor out = make_view(*this, target, broadcast_strides(this->shape(), strides(), target), offset());
  record(out, "expand", {*this}, [](BackwardCtx& ctx) {
    ctx.grad_in(0).add_(sum_to_shape(ctx.grad_out(), ctx.grad_in(0).shape()));
  });
  return out;
}

}  // namespace wick
