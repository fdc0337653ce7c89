// Comparisons, where/masked_fill and topk/sort. Comparisons and where walk their operands row by
// row over the broadcast shape (core/kernels/strided.h); topk orders each row of indices on its own
// and takes the values with gather, whose backward routes the gradient to the chosen entries.
#include "core/ops/compare.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <type_traits>

#include "core/autograd.h"
#include "core/kernels/strided.h"
#include "core/ops/elementwise.h"
#include "core/ops/index.h"
#include "core/ops/reduce.h"
#include "core/parallel.h"

namespace wick {
namespace {

// Calls fn with t's data pointer, typed by its dtype.
template <typename Fn>
void with_data(const Tensor& t, Fn fn) {
  if (t.dtype() == Dtype::Float32) fn(t.data<float>());
  else fn(t.data<int64_t>());
}

// 1 where pred(a, b) over the broadcast shape, both read as their common type (int64 with float32:
// float32).
template <typename Pred>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, Pred pred) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape);
  float* o = out.data<float>();
  with_data(a, [&](const auto* pa) {
    with_data(b, [&](const auto* pb) {
      using C = std::common_type_t<std::remove_cvref_t<decltype(*pa)>, std::remove_cvref_t<decltype(*pb)>>;
      kernels::for_each_row<3>(
          shape, {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                  broadcast_strides(b.shape(), b.strides(), shape)},
          [&](std::array<int64_t, 3> off, int64_t len, std::array<int64_t, 3> st) {
            for (int64_t j = 0; j < len; ++j)
              o[off[0] + j * st[0]] = pred(C(pa[off[1] + j * st[1]]), C(pb[off[2] + j * st[2]])) ? 1.f : 0.f;
          });
    });
  });
  return out;
}

// b as a 0-d operand for a: int64 when a is int64 and b a whole number (compared exactly), else
// float32 (so a float32 tensor meets float32(b), as in PyTorch).
Tensor scalar_for(const Tensor& a, double b) {
  const bool whole = std::fabs(b) < 9e18 && b == std::trunc(b);
  return scalar_tensor(b, a.dtype() == Dtype::Int64 && whole ? Dtype::Int64 : Dtype::Float32);
}

// Shape `a` and `b` broadcast to, or nothing when they do not.
std::optional<Shape> try_broadcast(const Shape& a, const Shape& b) {
  try {
    return broadcast_shapes(a, b, "");
  } catch (const Error&) {
    return std::nullopt;
  }
}

// The indices of the k (none: all) largest or smallest entries of each row of x along dim, in
// order, as an int64 tensor of x's shape with k at dim.
Tensor order_indices(const Tensor& x, std::optional<int64_t> count, int64_t dim, bool largest, const char* op) {
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 tensor, got ", dtype_name(x.dtype()));
  WICK_CHECK(x.dim() > 0, op, ": expects a tensor with at least one dimension, got a 0-d tensor");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const int64_t k = count.value_or(x.size(d));
  WICK_CHECK(k >= 0 && k <= x.size(d), op, ": k = ", k, " is out of range for dimension ", d, " of size ",
             x.size(d), " (shape ", shape_str(x.shape()), ")");
  ReduceRows r = reduce_rows(x, {d}, false, op);  // rows run along dim
  const float* p = r.rows.data<float>();
  const int64_t n = r.inner;
  std::vector<int64_t> idx(static_cast<size_t>(r.outer * k));
  parallel_for(0, r.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = b; i < e; ++i) {
      const float* row = p + i * n;
      // A strict total order: NaN above every number, equal values by index.
      auto before = [row, largest](int64_t u, int64_t v) {
        const float a = row[u], c = row[v];
        const bool na = std::isnan(a), nc = std::isnan(c);
        if (na != nc) return na == largest;
        if (!na && a != c) return largest ? a > c : a < c;
        return u < v;
      };
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      std::copy(order.begin(), order.begin() + k, idx.begin() + i * k);
    }
  });
  Shape rows_shape = r.out_shape;
  rows_shape.push_back(k);
  std::vector<int64_t> back(static_cast<size_t>(x.dim()));  // moves the last dim back to d
  for (int64_t i = 0; i < x.dim(); ++i) back[i] = i < d ? i : (i == d ? x.dim() - 1 : i - 1);
  return from_vector(idx, rows_shape).permute(back).contiguous();
}

ValuesIndices ordered(const Tensor& x, std::optional<int64_t> k, int64_t dim, bool largest, const char* op) {
  Tensor indices = order_indices(x, k, dim, largest, op);
  return {gather(x, wrap_dim(dim, x.dim(), op), indices), indices};
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", std::equal_to<>()); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", std::not_equal_to<>()); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", std::less<>()); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", std::less_equal<>()); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", std::greater<>()); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", std::greater_equal<>()); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_for(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_for(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_for(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_for(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_for(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_for(a, b)); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  WICK_CHECK(a.dtype() == Dtype::Float32 && b.dtype() == Dtype::Float32, "where: a and b must be float32, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  std::optional<Shape> ab = try_broadcast(a.shape(), b.shape());
  std::optional<Shape> all = ab ? try_broadcast(cond.shape(), *ab) : std::nullopt;
  WICK_CHECK(all.has_value(), "where: cond ", shape_str(cond.shape()), ", a ", shape_str(a.shape()), " and b ",
             shape_str(b.shape()), " cannot be broadcast together");
  const Shape& shape = *all;
  Tensor out = empty(shape);
  float* o = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  with_data(cond, [&](const auto* pc) {
    kernels::for_each_row<4>(
        shape, {out.strides(), broadcast_strides(cond.shape(), cond.strides(), shape),
                broadcast_strides(a.shape(), a.strides(), shape), broadcast_strides(b.shape(), b.strides(), shape)},
        [&](std::array<int64_t, 4> off, int64_t len, std::array<int64_t, 4> st) {
          for (int64_t j = 0; j < len; ++j)
            o[off[0] + j * st[0]] = pc[off[1] + j * st[1]] != 0 ? pa[off[2] + j * st[2]] : pb[off[3] + j * st[3]];
        });
  });
  // d out / da = [cond], d out / db = [!cond]: g routed by where itself (not g * mask, which would
  // turn an infinite g into NaN where it was not picked), summed back over the broadcast dims.
  record(out, "where", {cond.detach(), a, b}, [](BackwardCtx& ctx) {
    const Tensor& g = ctx.grad_out();
    const Tensor zero = scalar_tensor(0);
    if (ctx.needs_grad(1)) ctx.grad_in(1).add_(sum_to_shape(where(ctx.input(0), g, zero), ctx.grad_in(1).shape()));
    if (ctx.needs_grad(2)) ctx.grad_in(2).add_(sum_to_shape(where(ctx.input(0), zero, g), ctx.grad_in(2).shape()));
  }, {.inputs = {0}});
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  WICK_CHECK(x.dtype() == Dtype::Float32, "masked_fill: expects a float32 input, got ", dtype_name(x.dtype()));
  std::optional<Shape> s = try_broadcast(mask.shape(), x.shape());
  WICK_CHECK(s && *s == x.shape(), "masked_fill: mask of shape ", shape_str(mask.shape()),
             " does not broadcast to the input's shape ", shape_str(x.shape()));
  return where(mask, scalar_tensor(value), x);
}

ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  return ordered(x, k, dim, largest, "topk");
}
ValuesIndices sort(const Tensor& x, int64_t dim, bool descending) {
  return ordered(x, std::nullopt, dim, descending, "sort");
}
Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
  return order_indices(x, std::nullopt, dim, descending, "argsort");
}

}  // namespace wick
