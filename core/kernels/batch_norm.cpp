// Batch-normalization kernels: per-channel statistics and gradient sums (parallel over blocks of
// channels, each channel summed by one task in a fixed order), and the per-plane elementwise passes.
#include "core/kernels/batch_norm.h"

#include <algorithm>

#include "core/parallel.h"

namespace wick::kernels {
namespace {

constexpr int64_t kWork = 32768;  // elements per task, roughly

// Calls fn(c0, c1) for blocks of channels; a block holds several channels when each is small.
template <typename Fn>
void for_channel_blocks(int64_t N, int64_t C, int64_t S, Fn fn) {
  const int64_t per_channel = std::max<int64_t>(1, N * S);
  parallel_for(0, C, std::max<int64_t>(1, kWork / per_channel), fn);
}

// Calls fn(plane) for every (n, c) plane of S elements, plane = n * C + c.
template <typename Fn>
void for_planes(int64_t N, int64_t C, int64_t S, Fn fn) {
  parallel_for(0, N * C, std::max<int64_t>(1, kWork / std::max<int64_t>(S, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) fn(p);
  });
}

}  // namespace

void batch_norm_stats(const float* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  const double n = static_cast<double>(N * S);
  for_channel_blocks(N, C, S, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) mean[c] = var[c] = 0.0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const float* p = x + (i * C + c) * S;
        double s = mean[c];
        for (int64_t k = 0; k < S; ++k) s += p[k];
        mean[c] = s;
      }
    for (int64_t c = c0; c < c1; ++c) mean[c] /= n;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const float* p = x + (i * C + c) * S;
        const double m = mean[c];
        double s = var[c];
        for (int64_t k = 0; k < S; ++k) {
          double d = p[k] - m;
          s += d * d;
        }
        var[c] = s;
      }
    for (int64_t c = c0; c < c1; ++c) var[c] /= n;
  });
}

void batch_norm_apply(const float* x, float* y, int64_t N, int64_t C, int64_t S, const double* mean,
                      const double* a, const double* b) {
  for_planes(N, C, S, [&](int64_t p) {
    const int64_t c = p % C;
    const double m = mean[c], ac = a[c], bc = b[c];
    const float* in = x + p * S;
    float* out = y + p * S;
    for (int64_t k = 0; k < S; ++k) out[k] = static_cast<float>((in[k] - m) * ac + bc);
  });
}

void batch_norm_grad_sums(const float* x, const float* g, const double* mean, int64_t N, int64_t C,
                          int64_t S, double* sum_g, double* sum_gxc) {
  for_channel_blocks(N, C, S, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) sum_g[c] = sum_gxc[c] = 0.0;
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = c0; c < c1; ++c) {
        const float* px = x + (i * C + c) * S;
        const float* pg = g + (i * C + c) * S;
        const double m = mean[c];
        double sg = sum_g[c], sgx = sum_gxc[c];
        for (int64_t k = 0; k < S; ++k) {
          sg += pg[k];
          sgx += static_cast<double>(pg[k]) * (px[k] - m);
        }
        sum_g[c] = sg;
        sum_gxc[c] = sgx;
      }
  });
}

void batch_norm_input_grad(const float* x, const float* g, const double* mean, const double* A,
                           const double* B, const double* K, int64_t N, int64_t C, int64_t S, float* dx) {
  for_planes(N, C, S, [&](int64_t p) {
    const int64_t c = p % C;
    const double a = A[c], bb = B[c], k0 = K[c], m = mean[c];
    const float* px = x + p * S;
    const float* pg = g + p * S;
    float* out = dx + p * S;
    for (int64_t k = 0; k < S; ++k) out[k] += static_cast<float>(a * pg[k] + bb * (px[k] - m) + k0);
  });
}

}  // namespace wick::kernels
