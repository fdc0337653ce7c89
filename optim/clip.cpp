// clip_grad_norm_: per-parameter norms accumulated in double over fixed chunks (deterministic at
// any thread count), combined into the total norm, then one float scale applied to every grad.
#include "optim/clip.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/parallel.h"

namespace wick::optim {
namespace {

constexpr int64_t kGrain = 16384;

// The norm_type-norm of g (n elements), rounded to float as PyTorch's per-tensor norm is.
float tensor_norm(const float* g, int64_t n, double p) {
  if (std::isinf(p)) {
    // max |g| over fixed chunks; NaN wins, as torch's max does.
    double m = 0;
    const int64_t chunks = (n + kGrain - 1) / kGrain;
    std::vector<double> part(size_t(std::max<int64_t>(chunks, 1)), 0.0);
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        double mc = 0;
        for (int64_t i = c * kGrain; i < std::min(n, (c + 1) * kGrain); ++i) {
          const double a = std::fabs(double(g[i]));
          if (!(a <= mc)) mc = a;  // keeps a NaN once seen
        }
        part[size_t(c)] = mc;
      }
    });
    for (double v : part)
      if (!(v <= m)) m = v;
    return float(m);
  }
  const double s = parallel_sum(0, n, kGrain, [&](int64_t b, int64_t e) {
    double acc = 0;
    if (p == 2.0)
      for (int64_t i = b; i < e; ++i) acc += double(g[i]) * double(g[i]);
    else if (p == 1.0)
      for (int64_t i = b; i < e; ++i) acc += std::fabs(double(g[i]));
    else
      for (int64_t i = b; i < e; ++i) acc += std::pow(std::fabs(double(g[i])), p);
    return acc;
  });
  return float(p == 2.0 ? std::sqrt(s) : p == 1.0 ? s : std::pow(s, 1.0 / p));
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  WICK_CHECK(!std::isnan(norm_type) && norm_type > 0, "clip_grad_norm_: norm_type must be > 0 (or inf), got ",
             norm_type);
  WICK_CHECK(!std::isnan(max_norm), "clip_grad_norm_: max_norm is NaN");
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    WICK_CHECK(p.defined(), "clip_grad_norm_: a parameter is undefined");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    WICK_CHECK(g.is_contiguous(), "clip_grad_norm_: the gradient of a parameter of shape ", shape_str(p.shape()),
               " is not contiguous");
    grads.push_back(g);
  }
  if (grads.empty()) return 0.0;
  // The norm of the per-parameter norms (each a float32 value, as torch.stack of them is).
  std::vector<float> norms;
  for (const Tensor& g : grads) norms.push_back(tensor_norm(g.data<float>(), g.numel(), norm_type));
  const float total = tensor_norm(norms.data(), int64_t(norms.size()), norm_type);
  WICK_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
             " of the gradients is ", total, "; the gradients cannot be clipped (error_if_nonfinite)");
  // clip_coef = max_norm / (total + 1e-6) evaluates in PyTorch as reciprocal(total + 1e-6) * max_norm,
  // in float32, then is clamped to at most 1.
  const float denom = total + 1e-6f;
  float coef = (1.0f / denom) * float(max_norm);
  if (coef > 1.0f) coef = 1.0f;
  for (Tensor& g : grads) {
    float* d = g.data<float>();
    parallel_for(0, g.numel(), kGrain, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] *= coef;
    });
    g.bump_version();
  }
  return double(total);
}

double clip_grad_norm_(const Tensor& param, double max_norm, double norm_type, bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{param}, max_norm, norm_type, error_if_nonfinite);
}

}  // namespace wick::optim
