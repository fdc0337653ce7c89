// Raw group-normalization kernels, which layer normalization shares. The input is a contiguous
// (N, G, Cg, S) block: N·G rows of D = Cg·S values, each normalized with its own mean and biased
// variance, and channel c = g·Cg + cg (of C = G·Cg) scaled and shifted by its own γ[c], β[c].
//   group_norm: x (N, C, *) with G groups: Cg = C/G, S = the product of the spatial dims.
//   layer_norm: x (*, normalized_shape): N = the leading dims' product, G = 1, Cg = D, S = 1.
// Each row is summed in double by one task in a fixed order, and the per-channel sums over n are
// added in n order: the same bits at any thread count.
#pragma once
#include <cstdint>

namespace wick::kernels {

struct GroupDims {
  int64_t N, G, Cg, S;
  int64_t rows() const { return N * G; }
  int64_t row_size() const { return Cg * S; }
  int64_t channels() const { return G * Cg; }
};

// Per row: mean and invstd = 1/√(biased variance + eps), from the row's mean and Σ (x − mean)².
// x (N, G, Cg, S); mean, invstd (N, G)
void group_norm_stats(const float* x, GroupDims d, double eps, double* mean, double* invstd);

// y = (x − mean)·(γ[c]·invstd) + β[c], in double. gamma, beta (C) or null (1 and 0).
// x, y (N, G, Cg, S); mean, invstd (N, G)
void group_norm_apply(const float* x, float* y, GroupDims d, const double* mean, const double* invstd,
                      const float* gamma, const float* beta);

// Per (n, c): sum_g = Σ_s g and sum_gxc = Σ_s g·(x − mean[n, g]).  x, g (N, G, Cg, S); sums (N, C)
void group_norm_grad_sums(const float* x, const float* g, GroupDims d, const double* mean, double* sum_g,
                          double* sum_gxc);

// dγ[c] += Σ_n invstd[n, g]·sum_gxc[n, c] and dβ[c] += Σ_n sum_g[n, c], in n order; either may be
// null.  sums (N, C); invstd (N, G); dgamma, dbeta (C)
void group_norm_affine_grad(const double* sum_g, const double* sum_gxc, GroupDims d, const double* invstd,
                            float* dgamma, float* dbeta);

// dx += A·g + B·(x − mean) + K per row (dx = ... when assign, dx then being uninitialized), with
// A = γ[c]·invstd, B = −invstd³·Σ_c γ[c]·sum_gxc / D and K = −invstd·Σ_c γ[c]·sum_g / D, in double
// (the derivation is in core/ops/group_norm.cpp).  x, g, dx (N, G, Cg, S); gamma (C) or null
void group_norm_input_grad(const float* x, const float* g, GroupDims d, const double* mean, const double* invstd,
                           const float* gamma, const double* sum_g, const double* sum_gxc, bool assign, float* dx);

}  // namespace wick::kernels
