// Group-normalization kernels (layer_norm's too): every pass runs over rows in parallel, each row
// summed by one task (core/kernels/norm_loops.h); only the affine gradients cross rows, summed per
// channel in n order.
#include "core/kernels/group_norm.h"

#include <cmath>

#include "core/kernels/norm_loops.h"

namespace wick::kernels {
namespace {

double gamma_of(const float* gamma, int64_t c) { return gamma ? static_cast<double>(gamma[c]) : 1.0; }

}  // namespace

void group_norm_stats(const float* x, GroupDims d, double eps, double* mean, double* invstd) {
  const int64_t D = d.row_size();
  for_rows(d.rows(), D, [&](int64_t r) {
    const float* in = x + r * D;
    const double m = D > 0 ? lane_sum(D, [&](int64_t k) { return static_cast<double>(in[k]); }) / D : 0.0;
    const double m2 = lane_sum(D, [&](int64_t k) {
      const double v = in[k] - m;
      return v * v;
    });
    mean[r] = m;
    invstd[r] = 1.0 / std::sqrt((D > 0 ? m2 / D : 0.0) + eps);
  });
}

void group_norm_apply(const float* x, float* y, GroupDims d, const double* mean, const double* invstd,
                      const float* gamma, const float* beta) {
  for_rows(d.rows(), d.row_size(), [&](int64_t r) {
    const int64_t c0 = (r % d.G) * d.Cg;
    const double m = mean[r];
    for (int64_t cg = 0; cg < d.Cg; ++cg) {
      const double a = gamma_of(gamma, c0 + cg) * invstd[r], b = beta ? beta[c0 + cg] : 0.0;
      const float* __restrict in = x + (r * d.Cg + cg) * d.S;
      float* __restrict out = y + (r * d.Cg + cg) * d.S;
      for (int64_t s = 0; s < d.S; ++s) out[s] = static_cast<float>((in[s] - m) * a + b);
    }
  });
}

void group_norm_grad_sums(const float* x, const float* g, GroupDims d, const double* mean, double* sum_g,
                          double* sum_gxc) {
  for_rows(d.rows(), d.row_size(), [&](int64_t r) {
    const double m = mean[r];
    for (int64_t i = r * d.Cg; i < (r + 1) * d.Cg; ++i) {  // i = n·C + c
      const float* px = x + i * d.S;
      const float* pg = g + i * d.S;
      sum_g[i] = lane_sum(d.S, [&](int64_t s) { return static_cast<double>(pg[s]); });
      sum_gxc[i] = lane_sum(d.S, [&](int64_t s) { return static_cast<double>(pg[s]) * (px[s] - m); });
    }
  });
}

void group_norm_affine_grad(const double* sum_g, const double* sum_gxc, GroupDims d, const double* invstd,
                            float* dgamma, float* dbeta) {
  const int64_t C = d.channels();
  for_rows(C, d.N, [&](int64_t c) {
    double sg = 0.0, sgx = 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      sg += sum_g[n * C + c];
      sgx += invstd[n * d.G + c / d.Cg] * sum_gxc[n * C + c];
    }
    if (dgamma) dgamma[c] += static_cast<float>(sgx);
    if (dbeta) dbeta[c] += static_cast<float>(sg);
  });
}

void group_norm_input_grad(const float* x, const float* g, GroupDims d, const double* mean, const double* invstd,
                           const float* gamma, const double* sum_g, const double* sum_gxc, bool assign, float* dx) {
  const double D = static_cast<double>(d.row_size());
  for_rows(d.rows(), d.row_size(), [&](int64_t r) {
    const int64_t c0 = (r % d.G) * d.Cg;
    double sh = 0.0, shx = 0.0;  // Σ_c γ[c]·sum_g, Σ_c γ[c]·sum_gxc over the row's channels, in order
    for (int64_t cg = 0; cg < d.Cg; ++cg) {
      sh += gamma_of(gamma, c0 + cg) * sum_g[r * d.Cg + cg];
      shx += gamma_of(gamma, c0 + cg) * sum_gxc[r * d.Cg + cg];
    }
    const double m = mean[r], inv = invstd[r];
    const double B = -inv * inv * inv * shx / D, K = -inv * sh / D;
    for (int64_t cg = 0; cg < d.Cg; ++cg) {
      const double A = gamma_of(gamma, c0 + cg) * inv;
      const float* __restrict px = x + (r * d.Cg + cg) * d.S;
      const float* __restrict pg = g + (r * d.Cg + cg) * d.S;
      float* __restrict out = dx + (r * d.Cg + cg) * d.S;
      if (assign) {
        for (int64_t s = 0; s < d.S; ++s) out[s] = static_cast<float>(A * pg[s] + B * (px[s] - m) + K);
      } else {
        for (int64_t s = 0; s < d.S; ++s) out[s] += static_cast<float>(A * pg[s] + B * (px[s] - m) + K);
      }
    }
  });
}

}  // namespace wick::kernels
