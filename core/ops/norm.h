// Functional batch normalization, exactly as docs/batchnorm_spec.md (PyTorch 1.13) defines it.
#pragma once
#include "../tensor.h"

namespace wick {

// x (N, C), (N, C, L) or (N, C, H, W); statistics per channel C over every other dim.
// training: normalize with the batch mean and biased variance; when running_mean/running_var are
//   defined, update them in place: r = (1 - momentum) r + momentum * batch_stat, with the unbiased
//   variance. A batch whose statistics are NaN/Inf is refused (wick::Error) before any update.
// eval (training == false): normalize with running_mean/running_var (which must be defined).
// weight/bias (C) may be undefined (affine = false). Gradients flow to x, weight and bias, never
// into the running buffers.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);

// batch_norm whose training batch is the union of every process's batch (core/distributed.h):
// the mean, the biased variance that normalizes, the unbiased one that updates the running
// statistics, and the sums its backward needs are all over every process's values, so P
// processes with b values each compute what one process would with all P·b (up to rounding).
// Every process must call it at the same point of its forward and backward. In eval mode, or
// with one process, it is batch_norm exactly.
Tensor sync_batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                       double eps = 1e-5);

// relu(batch_norm(...)) as one op: the same values and gradients bit for bit, without the ReLU's
// own pass over memory each way (nn::Sequential uses it for a BatchNorm followed by a ReLU).
Tensor batch_norm_relu(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                       double eps = 1e-5);

}  // namespace wick
