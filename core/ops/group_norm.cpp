// group_norm and layer_norm: their checks, and the one normalization with autograd that both are
// (rows of a (N, G, Cg, S) block, core/kernels/group_norm.h). NaN and Inf propagate as in
// PyTorch: with no running statistics to protect there is nothing to refuse, so a NaN makes its
// row's outputs NaN (and, through the sums over samples, the weight and bias gradients).
#include "core/ops/group_norm.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/kernels/group_norm.h"
#include "core/trace.h"

namespace wick {
namespace {

void check_input(const Tensor& x, const char* op) {
  WICK_CHECK(x.defined(), op, ": input is undefined");
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 input, got ", dtype_name(x.dtype()));
}

// weight or bias: float32 of the shape `want` (or undefined); `what` says where `want` comes from.
void check_affine(const Tensor& t, const char* op, const char* name, const Shape& want, const std::string& what) {
  if (!t.defined()) return;
  WICK_CHECK(t.dtype() == Dtype::Float32, op, ": ", name, " must be float32, got ", dtype_name(t.dtype()));
  WICK_CHECK(t.shape() == want, op, ": ", name, " has shape ", shape_str(t.shape()), " but expected ",
             shape_str(want), " (", what, ")");
}

// The values of t, contiguous and outside the graph (undefined stays undefined), and their address.
Tensor raw(const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); }
const float* data_of(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

Tensor normalize(const Tensor& x, kernels::GroupDims d, const Tensor& weight, const Tensor& bias, double eps,
                 const char* op) {
  WICK_CHECK(eps >= 0.0, op, ": eps must be non-negative, got ", eps);
  const Tensor xc = raw(x), w = raw(weight), b = raw(bias);
  std::vector<double> mean(static_cast<size_t>(d.rows())), invstd(static_cast<size_t>(d.rows()));
  kernels::group_norm_stats(xc.data<float>(), d, eps, mean.data(), invstd.data());
  Tensor out = empty(x.shape());
  kernels::group_norm_apply(xc.data<float>(), out.data<float>(), d, mean.data(), invstd.data(), data_of(w),
                            data_of(b));

  const AffineInputs in = affine_inputs(x, weight, bias);
  const int iw = in.iw, ib = in.ib;
  // Backward, per row of D values with mean μ, r = invstd, x̂ = (x − μ)·r, y = γ_c·x̂ + β_c and
  // g = dL/dy:
  //   dβ_c = Σ g ;  dγ_c = Σ g·x̂ = Σ_n r·Σ g·(x − μ)      (over the samples and positions of c)
  //   dL/dx̂ = h = γ_c·g; μ and r depend on x (dμ/dx_j = 1/D, dσ²/dx_j = 2(x_j − μ)/D), so
  //   dx = r·(h − mean(h) − x̂·mean(h·x̂))                  (means over the row)
  //      = A·g + B·(x − μ) + K  with A = γ_c·r, B = −r³·Σ h·(x − μ)/D, K = −r·Σ h/D,
  // where Σ h = Σ_c γ_c·Σ g and Σ h·(x − μ) = Σ_c γ_c·Σ g·(x − μ): the per-(n, c) sums serve all three.
  record(out, op, in.inputs, [mean, invstd, d, iw, ib](BackwardCtx& ctx) {
    const Tensor xin = raw(ctx.input(0)), gamma = iw >= 0 ? raw(ctx.input(iw)) : Tensor();
    const float* g = ctx.grad_out().data<float>();
    const size_t sums = static_cast<size_t>(d.N * d.channels());
    std::vector<double> sum_g(sums), sum_gxc(sums);
    kernels::group_norm_grad_sums(xin.data<float>(), g, d, mean.data(), sum_g.data(), sum_gxc.data());
    const bool need_w = iw >= 0 && ctx.needs_grad(iw), need_b = ib >= 0 && ctx.needs_grad(ib);
    if (need_w || need_b)
      kernels::group_norm_affine_grad(sum_g.data(), sum_gxc.data(), d, invstd.data(),
                                      need_w ? ctx.grad_in(iw).data<float>() : nullptr,
                                      need_b ? ctx.grad_in(ib).data<float>() : nullptr);
    if (!ctx.needs_grad(0)) return;
    bool assign = false;
    float* dx = ctx.grad_in_or_new(0, assign).data<float>();
    kernels::group_norm_input_grad(xin.data<float>(), g, d, mean.data(), invstd.data(), data_of(gamma),
                                   sum_g.data(), sum_gxc.data(), assign, dx);
  }, in.saves);
  return out;
}

}  // namespace

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  check_input(x, "group_norm");
  WICK_CHECK(x.dim() >= 2, "group_norm: expects input of shape (N, C, *), got ", shape_str(x.shape()));
  WICK_CHECK(num_groups > 0, "group_norm: num_groups must be positive, got ", num_groups);
  const int64_t N = x.size(0), C = x.size(1);
  WICK_CHECK(C % num_groups == 0, "group_norm: the input's ", C, " channels (shape ", shape_str(x.shape()),
             ") are not divisible by ", num_groups, " groups");
  const std::string per_channel = "one value per channel of the input of shape " + shape_str(x.shape());
  check_affine(weight, "group_norm", "weight", {C}, per_channel);
  check_affine(bias, "group_norm", "bias", {C}, per_channel);
  const int64_t S = x.numel() / std::max<int64_t>(N * C, 1);
  Tensor out = normalize(x, {N, num_groups, C / num_groups, S}, weight, bias, eps, "group_norm");
  if (trace::active()) trace::op("group_norm", out, {x, weight, bias}, {{"num_groups", {num_groups}}, {"eps", {}, eps}});
  return out;
}

Tensor layer_norm(const Tensor& x, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  check_input(x, "layer_norm");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  WICK_CHECK(k > 0, "layer_norm: normalized_shape must have at least one dim, got []");
  const Shape& xs = x.shape();
  WICK_CHECK(x.dim() >= k && std::equal(normalized_shape.begin(), normalized_shape.end(), xs.end() - k),
             "layer_norm: normalized_shape ", shape_str(normalized_shape), " expects input of shape [*, ",
             shape_str(normalized_shape).substr(1), ", got ", shape_str(xs));
  const std::string from = "normalized_shape " + shape_str(normalized_shape);
  check_affine(weight, "layer_norm", "weight", normalized_shape, from);
  check_affine(bias, "layer_norm", "bias", normalized_shape, from);
  int64_t N = 1, D = 1;  // the leading dims' product, normalized_shape's
  for (int64_t i = 0; i < x.dim(); ++i) (i < x.dim() - k ? N : D) *= xs[i];
  Tensor out = normalize(x, {N, 1, D, 1}, weight, bias, eps, "layer_norm");
  if (trace::active())
    trace::op("layer_norm", out, {x, weight, bias}, {{"normalized_shape", normalized_shape}, {"eps", {}, eps}});
  return out;
}

}  // namespace wick
