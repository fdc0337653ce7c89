// Batch-normalization kernels. Every pass runs over (n, c) planes in parallel, each plane summed
// into its own partials (eight interleaved double accumulators, so the adds pipeline and
// vectorize); a channel's partials are then combined in n order, whatever the thread count.
#include "core/kernels/batch_norm.h"

#include <bit>
#include <cstdint>
#include <vector>

#include "core/kernels/norm_loops.h"

namespace wick::kernels {
namespace {

// One output of batch_norm_apply before its ReLU. The backward recomputes the ReLU's mask with
// it, so forward and backward share this one expression and agree bit for bit.
inline float bn_value(float x, double m, double a, double b) { return static_cast<float>((x - m) * a + b); }

// The ReLU's backward: g where its output y is positive or NaN, else 0 (as wick::relu's). Masked
// bits rather than a select, which GCC would compile to a branch inside these sums.
float relu_grad(float g, float y) {
  const int32_t keep = -static_cast<int32_t>(!(y <= 0.f));
  return std::bit_cast<float>(std::bit_cast<int32_t>(g) & keep);
}

}  // namespace

// Per plane: its sum and M2 = Σ (x − plane mean)² (the plane is read from memory once; the second
// pass runs in cache). Per channel, Chan's combination in n order:
//   mean = Σ_p sum_p / n,   var = Σ_p [M2_p + S·(mean_p − mean)²] / n.
void batch_norm_stats(const float* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  std::vector<double> psum(static_cast<size_t>(N * C)), pm2(static_cast<size_t>(N * C));
  const double ds = static_cast<double>(S);
  for_rows(N * C, S, [&](int64_t p) {
    const float* in = x + p * S;
    const double s = lane_sum(S, [&](int64_t k) { return static_cast<double>(in[k]); });
    const double m = S > 0 ? s / ds : 0.0;
    psum[p] = s;
    pm2[p] = lane_sum(S, [&](int64_t k) {
      const double d = in[k] - m;
      return d * d;
    });
  });
  const double n = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (int64_t i = 0; i < N; ++i) s += psum[i * C + c];
    const double m = s / n;
    double q = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      const double d = psum[i * C + c] / ds - m;
      q += pm2[i * C + c] + ds * d * d;
    }
    mean[c] = m;
    var[c] = q / n;
  }
}

void batch_norm_apply(const float* x, float* y, int64_t N, int64_t C, int64_t S, const double* mean,
                      const double* a, const double* b, bool relu) {
  for_rows(N * C, S, [&](int64_t p) {
    const int64_t c = p % C;
    const double m = mean[c], ac = a[c], bc = b[c];
    const float* __restrict in = x + p * S;
    float* __restrict out = y + p * S;
    for (int64_t k = 0; k < S; ++k) out[k] = bn_value(in[k], m, ac, bc);
    if (relu)
      for (int64_t k = 0; k < S; ++k) out[k] = out[k] > 0.f || out[k] != out[k] ? out[k] : 0.f;
  });
}

void batch_norm_grad_sums(const float* x, const float* g, const BnRelu* relu, const double* mean, int64_t N,
                          int64_t C, int64_t S, double* sum_g, double* sum_gxc) {
  std::vector<double> pg(static_cast<size_t>(N * C)), pgx(static_cast<size_t>(N * C));
  for_rows(N * C, S, [&](int64_t p) {
    const float* px = x + p * S;
    const float* pgr = g + p * S;
    const int64_t c = p % C;
    const double m = mean[c];
    if (relu) {
      const double ra = relu->a[c], rb = relu->b[c];
      auto masked = [&](int64_t k) { return static_cast<double>(relu_grad(pgr[k], bn_value(px[k], m, ra, rb))); };
      pg[p] = lane_sum(S, masked);
      pgx[p] = lane_sum(S, [&](int64_t k) { return masked(k) * (px[k] - m); });
    } else {
      pg[p] = lane_sum(S, [&](int64_t k) { return static_cast<double>(pgr[k]); });
      pgx[p] = lane_sum(S, [&](int64_t k) { return static_cast<double>(pgr[k]) * (px[k] - m); });
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    double sg = 0.0, sgx = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      sg += pg[i * C + c];
      sgx += pgx[i * C + c];
    }
    sum_g[c] = sg;
    sum_gxc[c] = sgx;
  }
}

void batch_norm_input_grad(const float* x, const float* g, const BnRelu* relu, const double* mean, const double* A,
                           const double* B, const double* K, int64_t N, int64_t C, int64_t S, bool assign,
                           float* dx) {
  for_rows(N * C, S, [&](int64_t p) {
    const int64_t c = p % C;
    const double a = A[c], bb = B[c], k0 = K[c], m = mean[c];
    const float* __restrict px = x + p * S;
    const float* __restrict pg = g + p * S;
    float* __restrict out = dx + p * S;
    const double ra = relu ? relu->a[c] : 0.0, rb = relu ? relu->b[c] : 0.0;
    // Four variants so that each inner loop is a plain one that vectorizes.
    if (relu && assign) {
      for (int64_t k = 0; k < S; ++k)
        out[k] = static_cast<float>(a * relu_grad(pg[k], bn_value(px[k], m, ra, rb)) + bb * (px[k] - m) + k0);
    } else if (relu) {
      for (int64_t k = 0; k < S; ++k)
        out[k] += static_cast<float>(a * relu_grad(pg[k], bn_value(px[k], m, ra, rb)) + bb * (px[k] - m) + k0);
    } else if (assign) {
      for (int64_t k = 0; k < S; ++k) out[k] = static_cast<float>(a * pg[k] + bb * (px[k] - m) + k0);
    } else {
      for (int64_t k = 0; k < S; ++k) out[k] += static_cast<float>(a * pg[k] + bb * (px[k] - m) + k0);
    }
  });
}

}  // namespace wick::kernels
