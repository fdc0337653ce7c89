// Reductions. Each output element reduces one contiguous row in a fixed order (double
// accumulators), so results do not depend on the thread count.
#include "core/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/parallel.h"

namespace wick {
namespace {

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t nd, const char* op) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    WICK_CHECK(std::find(out.begin(), out.end(), w) == out.end(), op, ": dim ", d,
               " appears more than once in the list of dims");
    out.push_back(w);
  }
  // A 0-d tensor accepts dim 0 or -1 (as PyTorch) but has no dim to reduce.
  if (nd == 0) out.clear();
  std::sort(out.begin(), out.end());
  return out;
}

void check_float(const Tensor& x, const char* op) {
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 tensor, got ", dtype_name(x.dtype()));
}

// Row sums of a contiguous (outer, inner) block, in double; one long row is cut into fixed chunks.
std::vector<double> row_sums(const float* p, int64_t outer, int64_t inner) {
  std::vector<double> out(static_cast<size_t>(outer));
  if (outer == 1) {
    out[0] = parallel_sum(0, inner, 16384, [p](int64_t b, int64_t e) {
      double s = 0;
      for (int64_t j = b; j < e; ++j) s += p[j];
      return s;
    });
    return out;
  }
  parallel_for(0, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* r = p + i * inner;
      double s = 0;
      for (int64_t j = 0; j < inner; ++j) s += r[j];
      out[i] = s;
    }
  });
  return out;
}

// Broadcasts a reduced gradient back over x's shape: g has out_shape; reshape it to keepdim
// form so that it broadcasts, then scale and add into gx.
void add_broadcast_back(Tensor& gx, const Tensor& g, const std::vector<int64_t>& dims, double scale) {
  Shape keep = reduced_shape(gx.shape(), dims, true);
  gx.add_(g.reshape(keep), scale);
}

}  // namespace

ReduceRows reduce_rows(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  check_float(x, op);
  std::vector<int64_t> red = wrap_dims(dims, x.dim(), op);
  std::vector<int64_t> perm;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!std::binary_search(red.begin(), red.end(), d)) {
      perm.push_back(d);
      outer *= x.shape()[d];
    }
  for (int64_t d : red) {
    perm.push_back(d);
    inner *= x.shape()[d];
  }
  Tensor rows = x.detach().permute(perm).contiguous();
  return {rows, outer, inner, reduced_shape(x.shape(), red, keepdim)};
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReduceRows r = reduce_rows(x, dims, keepdim, "sum");
  std::vector<double> s = row_sums(r.rows.data<float>(), r.outer, r.inner);
  Tensor out = empty(r.out_shape);
  float* o = out.data<float>();
  for (int64_t i = 0; i < r.outer; ++i) o[i] = static_cast<float>(s[i]);
  std::vector<int64_t> red = wrap_dims(dims, x.dim(), "sum");
  // d sum / dx = 1 for every element that was summed: broadcast g back.
  record(out, "sum", {x}, [red](BackwardCtx& ctx) {
    add_broadcast_back(ctx.grad_in(0), ctx.grad_out(), red, 1.0);
  });
  return out;
}

Tensor sum(const Tensor& x) {
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  std::iota(all.begin(), all.end(), 0);
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  // Only the count of reduced elements is needed here (no copy of x): sum does the work.
  check_float(x, "mean");
  std::vector<int64_t> red = wrap_dims(dims, x.dim(), "mean");
  int64_t n = 1;
  for (int64_t d : red) n *= x.shape()[d];
  WICK_CHECK(n > 0 || numel_of(reduced_shape(x.shape(), red, false)) == 0,
             "mean: reducing over an empty dimension of ", shape_str(x.shape()));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(n));
}

Tensor mean(const Tensor& x) {
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  std::iota(all.begin(), all.end(), 0);
  return mean(x, all, false);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  ReduceRows r = reduce_rows(x, dims, keepdim, "var");
  int64_t n = r.inner, denom = unbiased ? n - 1 : n;
  WICK_CHECK(denom > 0, "var: needs more than ", unbiased ? 1 : 0, " values per reduced row, got ", n,
             " (shape ", shape_str(x.shape()), ")");
  const float* p = r.rows.data<float>();
  std::vector<double> mu = row_sums(p, r.outer, n);
  Tensor out = empty(r.out_shape);
  float* o = out.data<float>();
  // Two passes (mean, then squared deviations) for accuracy.
  parallel_for(0, r.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double m = mu[i] / static_cast<double>(n), s = 0;
      for (int64_t j = 0; j < n; ++j) {
        double d = p[i * n + j] - m;
        s += d * d;
      }
      o[i] = static_cast<float>(s / static_cast<double>(denom));
    }
  });
  std::vector<int64_t> red = wrap_dims(dims, x.dim(), "var");
  // d var / dx_j = 2 (x_j - mean) / denom.
  record(out, "var", {x}, [red, denom](BackwardCtx& ctx) {
    const Tensor& xin = ctx.input(0);
    Tensor centered = sub(xin, mean(xin, red, true));
    Shape keep = reduced_shape(xin.shape(), red, true);
    ctx.grad_in(0).add_(mul(centered, ctx.grad_out().reshape(keep)), 2.0 / static_cast<double>(denom));
  }, {.inputs = {0}});
  return out;
}

namespace {

// Index (within its row) of the first maximum of each row; NaN counts as the maximum, as PyTorch.
std::vector<int64_t> row_argmax(const ReduceRows& r, const char* op) {
  WICK_CHECK(r.inner > 0, op, ": cannot reduce over an empty dimension");
  const float* p = r.rows.data<float>();
  std::vector<int64_t> idx(static_cast<size_t>(r.outer));
  parallel_for(0, r.outer, std::max<int64_t>(1, 16384 / r.inner), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* row = p + i * r.inner;
      int64_t best = 0;
      for (int64_t j = 1; j < r.inner && !std::isnan(row[best]); ++j)
        if (row[j] > row[best] || std::isnan(row[j])) best = j;
      idx[i] = best;
    }
  });
  return idx;
}

// max over the flattened rows; the gradient goes to the chosen element of each row.
Tensor max_rows(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReduceRows r = reduce_rows(x, dims, keepdim, "max");
  std::vector<int64_t> idx = row_argmax(r, "max");
  Tensor out = empty(r.out_shape);
  float* o = out.data<float>();
  const float* p = r.rows.data<float>();
  for (int64_t i = 0; i < r.outer; ++i) o[i] = p[i * r.inner + idx[i]];
  std::vector<int64_t> red = wrap_dims(dims, x.dim(), "max");
  record(out, "max", {x}, [red, idx, inner = r.inner](BackwardCtx& ctx) {
    // Scatter g into the permuted (rows) layout of the gradient, then permute back.
    Tensor& gx = ctx.grad_in(0);
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < gx.dim(); ++d)
      if (!std::binary_search(red.begin(), red.end(), d)) perm.push_back(d);
    perm.insert(perm.end(), red.begin(), red.end());
    Tensor rows = zeros({static_cast<int64_t>(idx.size()), inner});
    const float* g = ctx.grad_out().data<float>();
    float* pr = rows.data<float>();
    for (size_t i = 0; i < idx.size(); ++i) pr[i * inner + idx[i]] = g[i];
    Shape permuted;
    for (int64_t d : perm) permuted.push_back(gx.shape()[d]);
    gx.permute(perm).add_(rows.view(permuted));
  });
  return out;
}

}  // namespace

Tensor max(const Tensor& x) {
  check_float(x, "max");
  WICK_CHECK(x.numel() > 0, "max: the input is empty (shape ", shape_str(x.shape()), ")");
  std::vector<int64_t> all(static_cast<size_t>(x.dim()));
  std::iota(all.begin(), all.end(), 0);
  ReduceRows r = reduce_rows(x, all, false, "max");
  Tensor out = scalar_tensor(r.rows.data<float>()[row_argmax(r, "max")[0]]);
  // As PyTorch's all-elements max: the gradient is shared evenly among the elements equal to the
  // maximum (among the NaNs when the maximum is NaN), gx_j += g / count for each of them.
  record(out, "max", {x}, [](BackwardCtx& ctx) {
    const float m = ctx.out().item<float>();
    const bool nan = std::isnan(m);
    Tensor xc = ctx.input(0).contiguous();
    const float* p = xc.data<float>();
    auto hit = [p, m, nan](int64_t j) { return nan ? std::isnan(p[j]) : p[j] == m; };
    const int64_t n = xc.numel();
    const double count = parallel_sum(0, n, 16384, [&](int64_t b, int64_t e) {
      double c = 0;
      for (int64_t j = b; j < e; ++j) c += hit(j) ? 1.0 : 0.0;
      return c;
    });
    const float share = ctx.grad_out().item<float>() / static_cast<float>(count);
    float* gx = ctx.grad_in(0).data<float>();
    parallel_for(0, n, 16384, [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j)
        if (hit(j)) gx[j] += share;
    });
  }, {.inputs = {0}, .out = true});
  return out;
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return max_rows(x, {dim}, keepdim); }

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  ReduceRows r = reduce_rows(x, {dim}, keepdim, "argmax");
  std::vector<int64_t> idx = row_argmax(r, "argmax");
  return from_vector(idx, r.out_shape);
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  WICK_CHECK(broadcast_shapes(shape, g.shape(), "sum_to_shape") == g.shape(), "sum_to_shape: ",
             shape_str(shape), " does not broadcast to ", shape_str(g.shape()));
  size_t lead = g.shape().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < g.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(static_cast<int64_t>(i));
  return sum(g, dims, true).reshape(shape);
}

}  // namespace wick
