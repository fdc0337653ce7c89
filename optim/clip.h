// Gradient clipping by total norm, as torch.nn.utils.clip_grad_norm_.
#pragma once
#include <limits>
#include <vector>

#include "../core/tensor.h"

namespace wick::optim {

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales the gradients of `params` in place so that their total norm (the norm_type-norm of the
// vector of per-parameter norms; norm_type = kInfNorm for the largest |g|) is at most max_norm:
// each grad is multiplied by min(1, max_norm / (total + 1e-6)), computed in float32 as PyTorch
// does. Parameters without a grad are ignored. Returns the total norm before clipping (0 when no
// parameter has a grad). With error_if_nonfinite, a NaN or infinite total norm is an error and
// nothing is scaled.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& param, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

}  // namespace wick::optim
