// Raw batch-normalization kernels. The input is seen as a contiguous (N, C, S) block, S being the
// product of the spatial dims (1 for (N, C) input). Sums accumulate in double per (n, c) plane in a
// fixed order, then over n in index order, whatever the thread count.
#pragma once
#include <cstdint>

namespace wick::kernels {

// Per-channel batch mean and biased variance (two passes: mean, then squared deviations).
// x (N, C, S); mean, var (C)
void batch_norm_stats(const float* x, int64_t N, int64_t C, int64_t S, double* mean, double* var);

// y = (x − mean[c])·a[c] + b[c] in double (a = γ·invstd, b = β), so inputs far from zero keep
// their precision; then max(y, 0) when relu (NaN kept).  x, y (N, C, S); mean, a, b (C)
void batch_norm_apply(const float* x, float* y, int64_t N, int64_t C, int64_t S, const double* mean,
                      const double* a, const double* b, bool relu);

// The a and b (C) of a batch_norm_apply with relu, for the backward kernels below: given one, they
// recompute each output y from x exactly as the forward did and count g only where y > 0 or y is
// NaN (the ReLU's gradient mask), so the forward's output need not be kept. Null: no ReLU.
struct BnRelu {
  const double* a;
  const double* b;
};

// Per-channel sum_g = Σ g and sum_gxc = Σ g·(x − mean[c]).  x, g (N, C, S); mean, sums (C)
void batch_norm_grad_sums(const float* x, const float* g, const BnRelu* relu, const double* mean, int64_t N,
                          int64_t C, int64_t S, double* sum_g, double* sum_gxc);

// dx += A[c]·g + B[c]·(x − mean[c]) + K[c], evaluated in double (dx = ... when assign, dx then
// being uninitialized).  x, g, dx (N, C, S); the rest (C)
void batch_norm_input_grad(const float* x, const float* g, const BnRelu* relu, const double* mean, const double* A,
                           const double* B, const double* K, int64_t N, int64_t C, int64_t S, bool assign,
                           float* dx);

}  // namespace wick::kernels
