// softmax / log_softmax and the losses (cross_entropy fused with log_softmax, nll_loss, mse_loss):
// checks, reductions and the autograd records; the row kernels are in core/kernels/softmax.cpp.
#include "core/ops/loss.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/kernels/softmax.h"
#include "core/parallel.h"
#include "core/trace.h"

namespace wick {
namespace {

void check_float(const Tensor& x, const char* op, const char* what) {
  WICK_CHECK(x.defined(), op, ": ", what, " is undefined");
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 ", what, ", got ", dtype_name(x.dtype()));
}

// x seen as (outer, D, inner) around `dim`; a 0-d tensor is one row of one element.
struct DimLayout {
  int64_t outer = 1, D = 1, inner = 1;
};

DimLayout dim_layout(const Shape& shape, int64_t dim) {
  DimLayout l;
  for (int64_t k = 0; k < static_cast<int64_t>(shape.size()); ++k) {
    if (k < dim) l.outer *= shape[k];
    else if (k == dim) l.D = shape[k];
    else l.inner *= shape[k];
  }
  return l;
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log, const char* op) {
  check_float(x, op, "input");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  const DimLayout l = dim_layout(x.shape(), d);
  Tensor xc = x.detach().contiguous();
  Tensor out = empty(x.shape());
  kernels::softmax_forward(xc.data<float>(), out.data<float>(), l.outer, l.D, l.inner, log);
  // Backward (y = out, g = dL/dy), per row along dim:
  //   softmax:     dy_i/dx_j = y_i (δ_ij - y_j)  =>  dx_j = y_j (g_j - Σ_i g_i y_i)
  //   log_softmax: dy_i/dx_j = δ_ij - softmax_j  =>  dx_j = g_j - exp(y_j) Σ_i g_i
  record(out, op, {x}, [l, log](BackwardCtx& ctx) {
    kernels::softmax_backward(ctx.out().data<float>(), ctx.grad_out().data<float>(),
                              ctx.grad_in(0).data<float>(), l.outer, l.D, l.inner, log);
  }, {.inputs = {}, .out = true});
  if (trace::active()) trace::op(op, out, {x}, {{"dim", {d}}});
  return out;
}

// The (N, C, inner) layout of a class-score input and its target, checked against each other.
// input (C) with target (), or input (N, C, d1, ...) with target (N, d1, ...).
struct ClassLayout {
  int64_t N = 1, C = 1, inner = 1;
  Shape target_shape;
  int64_t counted = 0;  // targets that are not ignore_index
};

ClassLayout class_layout(const Tensor& input, const Tensor& target, int64_t ignore_index, const char* op,
                         const char* input_name) {
  check_float(input, op, input_name);
  WICK_CHECK(target.defined(), op, ": target is undefined");
  WICK_CHECK(target.dtype() == Dtype::Int64, op, ": expects int64 class indices as target, got ",
             dtype_name(target.dtype()), " (shape ", shape_str(target.shape()), ")");
  const Shape& s = input.shape();
  WICK_CHECK(input.dim() >= 1, op, ": ", input_name, " must be (C) or (N, C, ...), got a 0-d tensor");
  ClassLayout l;
  if (input.dim() == 1) {
    l.C = s[0];
  } else {
    l.N = s[0];
    l.C = s[1];
    l.target_shape.push_back(s[0]);
    for (size_t k = 2; k < s.size(); ++k) {
      l.inner *= s[k];
      l.target_shape.push_back(s[k]);
    }
  }
  WICK_CHECK(target.shape() == l.target_shape, op, ": ", input_name, " of shape ", shape_str(s),
             " and target of shape ", shape_str(target.shape()), " do not match (expected a target of shape ",
             shape_str(l.target_shape), ")");
  WICK_CHECK(l.C > 0, op, ": ", input_name, " of shape ", shape_str(s), " has no classes");
  Tensor tc = target.contiguous();
  const int64_t* t = tc.data<int64_t>();
  for (int64_t r = 0; r < tc.numel(); ++r) {
    if (t[r] == ignore_index) continue;
    WICK_CHECK(t[r] >= 0 && t[r] < l.C, op, ": target ", t[r], " is out of bounds: expected a class index in [0, ",
               l.C, ") or ignore_index (", ignore_index, ")");
    ++l.counted;
  }
  return l;
}

// Reduces per-row losses (double) into the op's result.
Tensor reduce_rows_loss(const std::vector<double>& loss, const ClassLayout& l, Reduction reduction) {
  if (reduction == Reduction::None) {
    Tensor out = empty(l.target_shape);
    float* o = out.data<float>();
    for (size_t r = 0; r < loss.size(); ++r) o[r] = static_cast<float>(loss[r]);
    return out;
  }
  double total = 0.0;
  for (double v : loss) total += v;
  // Mean divides by the targets that were not ignored: 0 / 0 = NaN when all were, as PyTorch.
  if (reduction == Reduction::Mean) total /= static_cast<double>(l.counted);
  return scalar_tensor(total);
}

// cross_entropy (from_logits) and nll_loss share everything but the kernel's mode.
Tensor class_loss(const Tensor& input, const Tensor& target, Reduction reduction, double eps,
                  int64_t ignore_index, bool from_logits, const char* op) {
  const char* input_name = from_logits ? "logits" : "log_probs";
  WICK_CHECK(eps >= 0.0 && eps <= 1.0, op, ": label_smoothing must be in [0, 1], got ", eps);
  ClassLayout l = class_layout(input, target, ignore_index, op, input_name);
  Tensor xc = input.detach().contiguous();
  Tensor tc = target.contiguous().clone();  // a private copy: later edits to target cannot reach backward
  Tensor logp = from_logits ? empty(input.shape()) : Tensor();
  std::vector<double> loss(static_cast<size_t>(l.N * l.inner));
  kernels::cross_entropy_forward(xc.data<float>(), tc.data<int64_t>(), from_logits ? logp.data<float>() : nullptr,
                                 loss.data(), l.N, l.C, l.inner, from_logits, eps, ignore_index);
  Tensor out = reduce_rows_loss(loss, l, reduction);
  // Backward. With p = softmax(x) and q = (1 - eps) onehot(t) + eps / C, each non-ignored row's
  // loss (1 - eps)(-log p_t) + eps mean_c(-log p_c) has d/dx_j = p_j - q_j (the softmax Jacobian
  // folded in, since Σ q = 1). nll_loss: d(-lp_t)/d lp_j = -δ_jt. Each row is scaled by dL/d loss_row:
  // g_r (none), g (sum) or g / count (mean).
  record(out, op, {input}, [l, tc, logp, reduction, eps, ignore_index, from_logits](BackwardCtx& ctx) {
    const Tensor& g = ctx.grad_out();
    float shared = 0.f;
    const float* scale = g.data<float>();
    int64_t stride = 1;
    if (reduction != Reduction::None) {
      shared = g.item<float>();
      if (reduction == Reduction::Mean) shared = static_cast<float>(shared / static_cast<double>(l.counted));
      scale = &shared;
      stride = 0;
    }
    float* dx = ctx.grad_in(0).data<float>();
    if (reduction == Reduction::Mean && l.counted == 0) return;  // every target ignored: zero gradient
    kernels::cross_entropy_backward(from_logits ? logp.data<float>() : nullptr, tc.data<int64_t>(), scale, stride,
                                    dx, l.N, l.C, l.inner, from_logits, eps, ignore_index);
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }

Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, double label_smoothing,
                     int64_t ignore_index) {
  return class_loss(logits, target, reduction, label_smoothing, ignore_index, true, "cross_entropy");
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction, int64_t ignore_index) {
  return class_loss(log_probs, target, reduction, 0.0, ignore_index, false, "nll_loss");
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_float(input, "mse_loss", "input");
  check_float(target, "mse_loss", "target");
  WICK_CHECK(input.shape() == target.shape(), "mse_loss: input of shape ", shape_str(input.shape()),
             " and target of shape ", shape_str(target.shape()), " must have the same shape");
  Tensor xc = input.detach().contiguous(), tc = target.detach().contiguous();
  const float* px = xc.data<float>();
  const float* pt = tc.data<float>();
  const int64_t n = input.numel();
  constexpr int64_t kGrain = 16384;
  Tensor out;
  if (reduction == Reduction::None) {
    out = empty(input.shape());
    float* o = out.data<float>();
    parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        float d = px[i] - pt[i];
        o[i] = d * d;
      }
    });
  } else {
    double total = parallel_sum(0, n, kGrain, [&](int64_t b, int64_t e) {
      double s = 0.0;
      for (int64_t i = b; i < e; ++i) {
        double d = static_cast<double>(px[i]) - pt[i];
        s += d * d;
      }
      return s;
    });
    if (reduction == Reduction::Mean) total /= static_cast<double>(n);  // empty input: NaN, as PyTorch
    out = scalar_tensor(total);
  }
  // d (x - t)^2 / dx = 2 (x - t) = -d/dt, times dL/d loss_i: g_i (none), g (sum), g / n (mean).
  record(out, "mse_loss", {input, target}, [reduction, n](BackwardCtx& ctx) {
    Tensor x = ctx.input(0).contiguous(), t = ctx.input(1).contiguous();
    const float* a = x.data<float>();
    const float* b = t.data<float>();
    const float* g = ctx.grad_out().data<float>();
    double shared = 0.0;
    if (reduction != Reduction::None)
      shared = 2.0 * g[0] / (reduction == Reduction::Mean ? static_cast<double>(n) : 1.0);
    float* gx = ctx.needs_grad(0) ? ctx.grad_in(0).data<float>() : nullptr;
    float* gt = ctx.needs_grad(1) ? ctx.grad_in(1).data<float>() : nullptr;
    parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        double s = reduction == Reduction::None ? 2.0 * g[i] : shared;
        float v = static_cast<float>(s * (static_cast<double>(a[i]) - b[i]));
        if (gx) gx[i] += v;
        if (gt) gt[i] -= v;
      }
    });
  }, {.inputs = {0, 1}});
  return out;
}

}  // namespace wick
