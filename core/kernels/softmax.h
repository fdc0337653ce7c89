// Raw kernels for the softmax family and the fused cross-entropy. Tensors are seen as
// (outer, D, inner) contiguous blocks: softmax runs along D, whose elements are `inner` apart.
#pragma once
#include <cstdint>

namespace wick::kernels {

// y = softmax(x) or log_softmax(x) along D.  x, y (outer, D, inner)
void softmax_forward(const float* x, float* y, int64_t outer, int64_t D, int64_t inner, bool log);

// dx += dL/dx given y = the forward's output and g = dL/dy.  y, g, dx (outer, D, inner)
//   softmax:     dx = y * (g - sum_D(g * y))
//   log_softmax: dx = g - exp(y) * sum_D(g)
void softmax_backward(const float* y, const float* g, float* dx, int64_t outer, int64_t D, int64_t inner,
                      bool log);

// Fused log_softmax + negative log likelihood with label smoothing, one row per (n, i):
//   loss[r] = (1 - eps) * (-logp[t]) + eps * mean_c(-logp[c]), or 0 when t == ignore_index.
// With from_logits false, x already holds log-probabilities (nll_loss): logp is not written (may be
// null). Targets must already be checked to lie in [0, C) or equal ignore_index.
// logits x, logp (N, C, inner); target, loss (N, inner).
void cross_entropy_forward(const float* x, const int64_t* target, float* logp, double* loss, int64_t N,
                           int64_t C, int64_t inner, bool from_logits, double eps, int64_t ignore_index);

// dx += scale[r] * (p - q) along C for each non-ignored row, with q the smoothed one-hot
// (1 - eps) * onehot(t) + eps / C, and p = exp(logp) (from_logits) or, for nll_loss, dx += -scale[r]
// * onehot(t). scale has N * inner entries, or one shared entry when scale_stride is 0.
// logp, dx (N, C, inner); target (N, inner).
void cross_entropy_backward(const float* logp, const int64_t* target, const float* scale,
                            int64_t scale_stride, float* dx, int64_t N, int64_t C, int64_t inner,
                            bool from_logits, double eps, int64_t ignore_index);

}  // namespace wick::kernels
