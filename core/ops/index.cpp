// Joining and indexing: cat and stack (copies into slices of one output), index_select and gather
// (strided gathers) whose backwards scatter-add into the input's gradient in a fixed order.
#include "core/ops/index.h"

#include <algorithm>
#include <array>

#include "core/autograd.h"
#include "core/kernels/strided.h"
#include "core/parallel.h"

namespace wick {
namespace {

// ---------------------------------------------------------------- kernels

constexpr int64_t kWork = 32768;  // elements (times their cost) per parallel task

// Calls fn(offsets, len, inner_strides) over `shape` in blocks: a block is a piece, at most a few
// thousand elements, of one row of the coalesced shape, and offsets[k] is operand k's offset at
// its start. Blocks run in parallel in fixed chunks and every element belongs to exactly one
// block, so work that is local to an element is deterministic. `cost` is the work per element.
template <size_t N, typename Fn>
void for_each_block(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides, int64_t cost,
                    Fn fn) {
  if (numel_of(shape) == 0) return;
  kernels::StridedLayout<N> l = kernels::coalesce<N>(shape, strides);
  const size_t nd = l.shape.size();
  const int64_t len = l.shape[nd - 1];
  const int64_t block = std::min(len, std::max<int64_t>(16, kWork / std::max<int64_t>(cost, 1)));
  const int64_t segs = (len + block - 1) / block;
  const int64_t tasks = numel_of(l.shape) / len * segs;
  std::array<int64_t, N> inner;
  for (size_t k = 0; k < N; ++k) inner[k] = l.strides[k][nd - 1];
  const int64_t grain = std::max<int64_t>(1, kWork / std::max<int64_t>(block * cost, 1));
  parallel_for(0, tasks, grain, [&](int64_t t0, int64_t t1) {
    // Multi-index and offsets of the row holding task t0, then stepped like an odometer.
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, N> row{};
    int64_t rem = t0 / segs;
    for (size_t d = nd - 1; d-- > 0;) {
      idx[d] = rem % l.shape[d];
      rem /= l.shape[d];
      for (size_t k = 0; k < N; ++k) row[k] += idx[d] * l.strides[k][d];
    }
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s = t % segs;
      if (s == 0 && t != t0)
        for (size_t d = nd - 1; d-- > 0;) {
          for (size_t k = 0; k < N; ++k) row[k] += l.strides[k][d];
          if (++idx[d] < l.shape[d]) break;
          for (size_t k = 0; k < N; ++k) row[k] -= l.strides[k][d] * l.shape[d];
          idx[d] = 0;
        }
      std::array<int64_t, N> off;
      for (size_t k = 0; k < N; ++k) off[k] = row[k] + s * block * inner[k];
      fn(off, std::min(block, len - s * block), inner);
    }
  });
}

// out[p] = x[p with its gathered coordinate replaced by index[p]], for every p of `shape`.
// out (contiguous, shape); index read with `istrides` over shape; x read with `xstrides` over shape
// whose gathered dim has stride 0, plus index[p] * xdim.
template <typename T>
void gather_kernel(T* out, const T* x, const int64_t* index, const Shape& shape,
                   const std::vector<int64_t>& istrides, const std::vector<int64_t>& xstrides, int64_t xdim) {
  for_each_block<3>(shape, {contiguous_strides(shape), istrides, xstrides}, 1,
                    [&](std::array<int64_t, 3> off, int64_t len, std::array<int64_t, 3> st) {
                      T* o = out + off[0];
                      const int64_t* ip = index + off[1];
                      const T* xp = x + off[2];
                      if (st[0] == 1 && st[1] == 0 && st[2] == 1) {  // one slice of index_select
                        const T* src = xp + ip[0] * xdim;
                        std::copy(src, src + len, o);
                      } else {
                        for (int64_t j = 0; j < len; ++j) o[j * st[0]] = xp[j * st[2] + ip[j * st[1]] * xdim];
                      }
                    });
}

// The reverse of gather_kernel: gx[p with its dim coordinate replaced by index[p]] += g[p] for
// every p of `shape`. Fibers (all coordinates but `dim`) touch disjoint parts of gx and run in
// parallel; each fiber adds its entries in index order, so every element of gx sums its
// contributions (duplicated indices accumulate) in one fixed order at any thread count.
// g (contiguous, shape); index read with `istrides` over shape; gx read with `xstrides` over shape,
// whose entry at `dim` is the stride the index values step by.
void scatter_add_kernel(float* gx, const float* g, const int64_t* index, const Shape& shape, int64_t dim,
                        const std::vector<int64_t>& istrides, const std::vector<int64_t>& xstrides) {
  std::vector<int64_t> gstrides = contiguous_strides(shape);
  const int64_t n = shape[dim], gd = gstrides[dim], id = istrides[dim], xd = xstrides[dim];
  auto drop = [dim](std::vector<int64_t> v) {
    v.erase(v.begin() + dim);
    return v;
  };
  for_each_block<3>(drop(shape), {drop(gstrides), drop(istrides), drop(xstrides)}, std::max<int64_t>(n, 1),
                    [&](std::array<int64_t, 3> off, int64_t len, std::array<int64_t, 3> st) {
                      for (int64_t j = 0; j < n; ++j) {
                        const float* gp = g + off[0] + j * gd;
                        const int64_t* ip = index + off[1] + j * id;
                        float* xp = gx + off[2];
                        if (st[1] == 0) {  // one index for the whole block (index_select)
                          float* dst = xp + ip[0] * xd;
                          if (st[0] == 1 && st[2] == 1)
                            for (int64_t f = 0; f < len; ++f) dst[f] += gp[f];
                          else
                            for (int64_t f = 0; f < len; ++f) dst[f * st[2]] += gp[f * st[0]];
                        } else {
                          for (int64_t f = 0; f < len; ++f) xp[f * st[2] + ip[f * st[1]] * xd] += gp[f * st[0]];
                        }
                      }
                    });
}

// Position of the first entry of p[0, n) outside [0, size), or -1 (chunks record their first bad
// entry; the smallest wins, whatever the thread count).
int64_t first_out_of_range(const int64_t* p, int64_t n, int64_t size) {
  constexpr int64_t grain = 1 << 16;
  std::vector<int64_t> bad(static_cast<size_t>((n + grain - 1) / grain), -1);
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (p[i] < 0 || p[i] >= size) {
        bad[static_cast<size_t>(b / grain)] = i;
        return;
      }
  });
  for (int64_t i : bad)
    if (i >= 0) return i;
  return -1;
}

// The multi-index of flat position p in a row-major `shape`, as "[i, j, k]".
std::string position_str(int64_t p, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = p % shape[d];
    p /= shape[d];
  }
  return shape_str(idx);
}

void check_index_dtype(const Tensor& index, const char* op) {
  WICK_CHECK(index.dtype() == Dtype::Int64, op, ": index must be an int64 tensor, got ", dtype_name(index.dtype()),
             " (shape ", shape_str(index.shape()), ")");
}

// Runs gather_kernel for x's dtype; x's gathered dim `dim` is addressed through the index.
Tensor gather_into(const Tensor& x, int64_t dim, const Tensor& index, const Shape& shape,
                   const std::vector<int64_t>& istrides) {
  Tensor out = empty(shape, x.dtype());
  std::vector<int64_t> xstrides = x.strides();
  const int64_t xdim = xstrides[dim];
  xstrides[dim] = 0;
  const int64_t* ip = index.data<int64_t>();
  if (x.dtype() == Dtype::Float32)
    gather_kernel<float>(out.data<float>(), x.data<float>(), ip, shape, istrides, xstrides, xdim);
  else
    gather_kernel<int64_t>(out.data<int64_t>(), x.data<int64_t>(), ip, shape, istrides, xstrides, xdim);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- cat, stack

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  WICK_CHECK(!tensors.empty(), "cat: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) WICK_CHECK(tensors[i].defined(), "cat: tensor ", i, " is undefined");
  // As PyTorch, 1-D empty tensors (shape [0]) are skipped, so cat({empty({0}), x}) is x.
  auto legacy_empty = [](const Tensor& t) { return t.dim() == 1 && t.numel() == 0; };
  size_t ref = 0;
  while (ref + 1 < tensors.size() && legacy_empty(tensors[ref])) ++ref;
  const Tensor& r = tensors[ref];
  WICK_CHECK(r.dim() > 0, "cat: zero-dimensional tensor (at position ", ref, ") cannot be concatenated");
  const int64_t d = wrap_dim(dim, r.dim(), "cat");
  Shape shape = r.shape();
  shape[d] = 0;
  std::vector<bool> skip(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    skip[i] = legacy_empty(t) && r.dim() != 1;
    if (skip[i]) continue;
    WICK_CHECK(t.dtype() == r.dtype(), "cat: tensor ", i, " has dtype ", dtype_name(t.dtype()), " but tensor ", ref,
               " has dtype ", dtype_name(r.dtype()), "; all tensors must have the same dtype");
    WICK_CHECK(t.dim() == r.dim(), "cat: tensor ", i, " has shape ", shape_str(t.shape()), " but tensor ", ref,
               " has shape ", shape_str(r.shape()), "; all tensors must have the same number of dimensions");
    for (int64_t e = 0; e < r.dim(); ++e)
      WICK_CHECK(e == d || t.size(e) == r.size(e), "cat: tensor ", i, " has shape ", shape_str(t.shape()),
                 " but tensor ", ref, " has shape ", shape_str(r.shape()), "; sizes must match except in dimension ",
                 d);
    shape[d] += t.size(d);
  }

  Tensor out = empty(shape, r.dtype());
  std::vector<int64_t> start(tensors.size(), 0), size(tensors.size(), 0);
  int64_t at = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (skip[i]) continue;
    start[i] = at;
    size[i] = tensors[i].size(d);
    if (tensors[i].numel() > 0) out.narrow(d, at, size[i]).copy_(tensors[i].detach());
    at += size[i];
  }
  // Each input's gradient is its slice of the output's gradient.
  record(out, "cat", tensors, [d, start, size](BackwardCtx& ctx) {
    for (size_t i = 0; i < start.size(); ++i) {
      if (!ctx.needs_grad(i)) continue;
      Tensor& gi = ctx.grad_in(i);
      if (size[i] > 0) gi.add_(ctx.grad_out().narrow(d, start[i], size[i]));
    }
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  WICK_CHECK(!tensors.empty(), "stack: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) WICK_CHECK(tensors[i].defined(), "stack: tensor ", i, " is undefined");
  const Tensor& first = tensors[0];
  for (size_t i = 1; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    WICK_CHECK(t.shape() == first.shape(), "stack: tensor ", i, " has shape ", shape_str(t.shape()),
               " but tensor 0 has shape ", shape_str(first.shape()), "; all tensors must have the same shape");
    WICK_CHECK(t.dtype() == first.dtype(), "stack: tensor ", i, " has dtype ", dtype_name(t.dtype()),
               " but tensor 0 has dtype ", dtype_name(first.dtype()), "; all tensors must have the same dtype");
  }
  const int64_t d = wrap_dim(dim, first.dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

// ---------------------------------------------------------------- index_select, gather

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_dtype(index, "index_select");
  WICK_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", shape_str(index.shape()));
  WICK_CHECK(x.dim() >= 1, "index_select: expects an input with at least one dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const int64_t n = index.numel(), size = x.size(d);
  Tensor idx = index.contiguous().view({n});
  const int64_t* ip = idx.data<int64_t>();
  const int64_t bad = first_out_of_range(ip, n, size);
  WICK_CHECK(bad < 0, "index_select: index ", ip[bad], " is out of bounds for dimension ", d,
             " with size ", size, " (entry ", bad, " of the index; input shape ", shape_str(x.shape()), ")");
  Shape shape = x.shape();
  shape[d] = n;
  // The index seen over the output's shape: it varies along dim only.
  std::vector<int64_t> istrides(shape.size(), 0);
  istrides[d] = 1;
  Tensor out = gather_into(x, d, idx, shape, istrides);
  // out[.., k, ..] = x[.., index[k], ..], so x's gradient is an index_add:
  // gx[.., index[k], ..] += g[.., k, ..] for k in order (repeated indices accumulate).
  record(out, "index_select", {x, index}, [d, n, istrides](BackwardCtx& ctx) {
    Tensor idx = ctx.input(1).contiguous().view({n});
    Tensor& gx = ctx.grad_in(0);
    scatter_add_kernel(gx.data<float>(), ctx.grad_out().data<float>(), idx.data<int64_t>(), ctx.grad_out().shape(),
                       d, istrides, gx.strides());
  }, {.inputs = {1}});
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_dtype(index, "gather");
  WICK_CHECK(index.dim() == x.dim(), "gather: index of shape ", shape_str(index.shape()), " and input of shape ",
             shape_str(x.shape()), " must have the same number of dimensions");
  if (x.dim() == 0) {  // a scalar: gather from it as from a 1-element vector
    wrap_dim(dim, 0, "gather");
    return gather(x.reshape({1}), 0, index.reshape({1})).reshape({});
  }
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t e = 0; e < x.dim(); ++e)
    WICK_CHECK(e == d || index.size(e) <= x.size(e), "gather: index of shape ", shape_str(index.shape()),
               " does not fit input of shape ", shape_str(x.shape()), ": index.size(", e, ") = ", index.size(e),
               " exceeds input.size(", e, ") = ", x.size(e), " (only dimension ", d, ", the gathered one, may be larger)");
  Tensor idx = index.contiguous();
  const int64_t* ip = idx.data<int64_t>();
  const int64_t bad = first_out_of_range(ip, idx.numel(), x.size(d));
  WICK_CHECK(bad < 0, "gather: index ", ip[bad], " is out of bounds for dimension ", d, " with size ",
             x.size(d), " (at position ", position_str(bad, idx.shape()), " of the index of shape ",
             shape_str(idx.shape()), "; input shape ", shape_str(x.shape()), ")");
  Tensor out = gather_into(x, d, idx, idx.shape(), idx.strides());
  // out[p] = x[p with coordinate d replaced by index[p]], so x's gradient is a scatter-add:
  // gx[p with coordinate d = index[p]] += g[p], each fiber in index order.
  record(out, "gather", {x, index}, [d](BackwardCtx& ctx) {
    Tensor idx = ctx.input(1).contiguous();
    Tensor& gx = ctx.grad_in(0);
    scatter_add_kernel(gx.data<float>(), ctx.grad_out().data<float>(), idx.data<int64_t>(), idx.shape(), d,
                       idx.strides(), gx.strides());
  }, {.inputs = {1}});
  return out;
}

}  // namespace wick
