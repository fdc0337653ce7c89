// batch_norm: the checks, the running-statistics update and the autograd record, exactly as
// docs/batchnorm_spec.md (PyTorch 1.13) says; the raw loops are in core/kernels/batch_norm.cpp.
#include "core/ops/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/distributed.h"
#include "core/kernels/batch_norm.h"
#include "core/trace.h"

namespace wick {
namespace {

// A (C) parameter or buffer: float32, one value per channel (or undefined).
void check_channel_tensor(const Tensor& t, const char* name, const Tensor& x, int64_t C) {
  if (!t.defined()) return;
  WICK_CHECK(t.dtype() == Dtype::Float32, "batch_norm: ", name, " must be float32, got ", dtype_name(t.dtype()));
  WICK_CHECK(t.dim() == 1 && t.numel() == C, "batch_norm: ", name, " has ", t.numel(), " values (shape ",
             shape_str(t.shape()), ") but the input (shape ", shape_str(x.shape()), ") has ", C,
             " channels; expected ", name, " of shape [", C, "]");
}

// The values of a (C) tensor as doubles, or `fill` when it is undefined.
std::vector<double> channel_values(const Tensor& t, int64_t C, double fill) {
  std::vector<double> v(static_cast<size_t>(C), fill);
  if (!t.defined()) return v;
  const float* p = t.data<float>();
  const int64_t st = t.stride(0);
  for (int64_t c = 0; c < C; ++c) v[c] = p[c * st];
  return v;
}

// r = (1 - m) r + m v, written through the tensor's own storage (a buffer, outside the graph).
void update_running(const Tensor& r, const std::vector<double>& v, double momentum) {
  float* p = r.data<float>();
  const int64_t st = r.stride(0);
  for (size_t c = 0; c < v.size(); ++c) {
    float& dst = p[static_cast<int64_t>(c) * st];
    dst = static_cast<float>((1.0 - momentum) * dst + momentum * v[c]);
  }
  r.bump_version();
}

// The batch statistics of every process's batch together (sync_batch_norm): each process's count,
// mean and sum of squared deviations M2 per channel, gathered and combined in rank order by Chan
// et al.'s pairwise update (no cancellation, as E[x²] − μ² would have):
//   n = na + nb,  δ = μb − μa,  μ = μa + δ·nb/n,  M2 = M2a + M2b + δ²·na·nb/n.
// So every process gets the same bits. Returns the total count; mean and var (biased) are
// replaced by the global ones.
int64_t combine_stats(int64_t n, std::vector<double>& mean, std::vector<double>& var) {
  const size_t C = mean.size(), row = 2 * C + 1;
  std::vector<double> mine(row), all(row * static_cast<size_t>(dist::world_size()));
  mine[0] = static_cast<double>(n);
  for (size_t c = 0; c < C; ++c) {
    mine[1 + c] = n > 0 ? mean[c] : 0.0;
    mine[1 + C + c] = n > 0 ? var[c] * static_cast<double>(n) : 0.0;
  }
  dist::all_gather(mine.data(), static_cast<int64_t>(row), all.data());
  double total = 0.0;
  std::vector<double> m2(C, 0.0);
  for (int r = 0; r < dist::world_size(); ++r) {
    const double* p = all.data() + static_cast<size_t>(r) * row;
    const double nr = p[0];
    if (nr == 0.0) continue;
    const double t = total + nr;
    for (size_t c = 0; c < C; ++c) {
      if (total == 0.0) {
        mean[c] = p[1 + c];
        m2[c] = p[1 + C + c];
      } else {
        const double delta = p[1 + c] - mean[c];
        mean[c] += delta * nr / t;
        m2[c] += p[1 + C + c] + delta * delta * total * nr / t;
      }
    }
    total = t;
  }
  for (size_t c = 0; c < C; ++c) var[c] = total > 0.0 ? m2[c] / total : 0.0;
  return static_cast<int64_t>(total);
}

// Σ over every process of the backward's two per-channel sums, in rank order.
void sum_over_processes(std::vector<double>& a, std::vector<double>& b) {
  const size_t C = a.size();
  std::vector<double> mine(a), all(2 * C * static_cast<size_t>(dist::world_size()));
  mine.insert(mine.end(), b.begin(), b.end());
  dist::all_gather(mine.data(), static_cast<int64_t>(2 * C), all.data());
  std::fill(a.begin(), a.end(), 0.0);
  std::fill(b.begin(), b.end(), 0.0);
  for (int r = 0; r < dist::world_size(); ++r)
    for (size_t c = 0; c < C; ++c) {
      a[c] += all[static_cast<size_t>(r) * 2 * C + c];
      b[c] += all[static_cast<size_t>(r) * 2 * C + C + c];
    }
}

// batch_norm, followed by a ReLU when relu; with the batch statistics of every process's batch
// together when sync and training with more than one process.
Tensor batch_norm_impl(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps, bool relu, bool sync) {
  WICK_CHECK(x.defined(), "batch_norm: input is undefined");
  WICK_CHECK(x.dtype() == Dtype::Float32, "batch_norm: expects a float32 input, got ", dtype_name(x.dtype()));
  WICK_CHECK(x.dim() >= 2, "batch_norm: expects input of shape (N, C), (N, C, L) or (N, C, H, W), got ",
             shape_str(x.shape()));
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  const int64_t n_here = N * S;  // values per channel in this process's batch
  sync = sync && training && dist::is_distributed();
  check_channel_tensor(weight, "weight", x, C);
  check_channel_tensor(bias, "bias", x, C);
  check_channel_tensor(running_mean, "running_mean", x, C);
  check_channel_tensor(running_var, "running_var", x, C);
  WICK_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm: running_mean and running_var must be both defined or both undefined");
  const bool has_running = running_mean.defined();
  WICK_CHECK(training || has_running,
             "batch_norm: eval mode (training = false) normalizes with running_mean and running_var, "
             "which are undefined; use training = true for batch statistics");
  WICK_CHECK(eps >= 0.0, "batch_norm: eps must be non-negative, got ", eps);

  Tensor xc = x.detach().contiguous();
  std::vector<double> mean(static_cast<size_t>(C)), invstd(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  if (training && n_here > 0) kernels::batch_norm_stats(xc.data<float>(), N, C, S, mean.data(), var.data());
  const int64_t n = sync ? combine_stats(n_here, mean, var) : n_here;  // values per channel in the batch
  WICK_CHECK(!training || n != 1, "batch_norm: Expected more than 1 value per channel when training, got input size ",
             shape_str(x.shape()), sync ? " over all processes" : "");
  if (training && n > 0) {
    if (has_running) {
      // Refuse a NaN/Inf batch before touching anything: PyTorch would poison the buffers for good.
      for (int64_t c = 0; c < C; ++c)
        WICK_CHECK(std::isfinite(mean[c]) && std::isfinite(var[c]), "batch_norm: the training batch (input shape ",
                   shape_str(x.shape()), ") has a NaN or Inf statistic in channel ", c, " (mean ", mean[c],
                   ", variance ", var[c], "); the running statistics were left unchanged");
      std::vector<double> unbiased(var);
      for (double& v : unbiased) v *= static_cast<double>(n) / static_cast<double>(n - 1);
      update_running(running_mean, mean, momentum);
      update_running(running_var, unbiased, momentum);
    }
    for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(var[c] + eps);
  } else if (!training) {
    mean = channel_values(running_mean, C, 0.0);
    std::vector<double> rv = channel_values(running_var, C, 1.0);
    for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(rv[c] + eps);
  }
  // y = (x − μ)·a + β per channel, a = γ·invstd.
  const std::vector<double> gamma = channel_values(weight, C, 1.0);
  const std::vector<double> beta = channel_values(bias, C, 0.0);
  std::vector<double> a(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) a[c] = gamma[c] * invstd[c];
  // The forward, and its remake in the backward of whatever saves the result (autograd.h).
  const auto normalize = [mean, a, beta, N, C, S, relu](const Tensor& xin) {
    Tensor y = empty(xin.shape());
    kernels::batch_norm_apply(xin.data<float>(), y.data<float>(), N, C, S, mean.data(), a.data(), beta.data(), relu);
    return y;
  };
  Tensor out = normalize(xc);

  AffineInputs in = affine_inputs(x, weight, bias);
  const int iw = in.iw, ib = in.ib;
  // Backward, per channel, with g = dL/dy, x̂ = (x − μ)·invstd and n values per channel.
  //   dβ = Σ g ;  dγ = Σ g·x̂ = invstd·Σ g·(x − μ)          (both modes; eval uses the running μ, σ²)
  //   eval: μ and invstd are constants, so dx = γ·invstd·g.
  //   training: μ and σ² depend on x. With dμ/dx_j = 1/n and dσ²/dx_j = 2(x_j − μ)/n,
  //     dx = γ·invstd·(g − mean(g) − x̂·mean(g·x̂))
  //        = A·g + B·(x − μ) + K  with A = γ·invstd, B = −γ·invstd³·Σ g(x − μ)/n, K = −γ·invstd·Σ g/n.
  //   sync: the batch is every process's; μ, σ² and n are the global ones, and so are the two sums
  //     in B and K (each process's g is that of its own loss; DataParallel then averages the
  //     parameters' gradients, which makes the whole the gradient of the mean loss). dγ and dβ
  //     stay this process's own sums, averaged like any other parameter's gradient.
  // With the ReLU fused, g above is the ReLU's backward of dL/d out: 0 where out <= 0, out being
  // recomputed from x with the forward's a and β (so only x is kept, not out).
  const char* name = sync ? "sync_batch_norm" : relu ? "batch_norm_relu" : "batch_norm";
  const auto backward = [mean, invstd, training, iw, ib, N, C, S, n, n_here, sync, relu, a, beta](BackwardCtx& ctx) {
    if (n == 0) {
      for (size_t i = 0; i < 3; ++i)
        if ((i == 0 || static_cast<int>(i) == iw || static_cast<int>(i) == ib) && ctx.needs_grad(i)) ctx.grad_in(i);
      return;
    }
    Tensor xin = ctx.input(0).contiguous();
    const float* px = xin.data<float>();
    const float* g = ctx.grad_out().data<float>();
    const kernels::BnRelu relu_of{a.data(), beta.data()};
    const kernels::BnRelu* relu_mask = relu ? &relu_of : nullptr;
    const bool need_w = iw >= 0 && ctx.needs_grad(iw), need_b = ib >= 0 && ctx.needs_grad(ib);
    const bool need_x = ctx.needs_grad(0);
    std::vector<double> sum_g(static_cast<size_t>(C)), sum_gxc(static_cast<size_t>(C));
    if ((need_w || need_b || (need_x && training)) && n_here > 0)
      kernels::batch_norm_grad_sums(px, g, relu_mask, mean.data(), N, C, S, sum_g.data(), sum_gxc.data());
    if (need_w) {
      float* gw = ctx.grad_in(iw).data<float>();
      for (int64_t c = 0; c < C; ++c) gw[c] += static_cast<float>(invstd[c] * sum_gxc[c]);
    }
    if (need_b) {
      float* gb = ctx.grad_in(ib).data<float>();
      for (int64_t c = 0; c < C; ++c) gb[c] += static_cast<float>(sum_g[c]);
    }
    if (!need_x) return;
    if (sync) sum_over_processes(sum_g, sum_gxc);
    if (n_here == 0) {
      ctx.grad_in(0);
      return;
    }
    const std::vector<double> gamma = channel_values(iw >= 0 ? ctx.input(iw) : Tensor(), C, 1.0);
    std::vector<double> A(static_cast<size_t>(C)), B(static_cast<size_t>(C), 0.0), K(static_cast<size_t>(C), 0.0);
    const double dn = static_cast<double>(n);
    for (int64_t c = 0; c < C; ++c) {
      A[c] = gamma[c] * invstd[c];
      if (training) {
        B[c] = -A[c] * invstd[c] * invstd[c] * sum_gxc[c] / dn;
        K[c] = -A[c] * sum_g[c] / dn;
      }
    }
    bool assign = false;
    float* dx = ctx.grad_in_or_new(0, assign).data<float>();
    kernels::batch_norm_input_grad(px, g, relu_mask, mean.data(), A.data(), B.data(), K.data(), N, C, S, assign, dx);
  };
  record(out, name, in.inputs, backward, in.saves);
  set_recompute(out, [normalize](const Node& node) { return normalize(saved_input(node, 0).contiguous()); });
  if (trace::active())
    trace::op(relu ? "batch_norm_relu" : "batch_norm", out, {x, weight, bias, running_mean, running_var},
              {{"training", {training}}, {"eps", {}, eps}});
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(x, running_mean, running_var, weight, bias, training, momentum, eps, false, false);
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(x, running_mean, running_var, weight, bias, training, momentum, eps, false, true);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(x, running_mean, running_var, weight, bias, training, momentum, eps, true, false);
}

}  // namespace wick
