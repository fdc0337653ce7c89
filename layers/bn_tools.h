// The BatchNorm tools PyTorch users keep asking for: freezing that survives model->train(),
// recalibration of the running statistics from data (precise BN; AdaBN on shifted data), and
// folding BN into the preceding Conv2d/Linear for deployment.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batchnorm.h"
#include "module.h"

namespace wick::nn {

// Every BatchNorm layer in the tree with its dotted name.
std::vector<std::pair<std::string, std::shared_ptr<BatchNormImplBase>>> batchnorm_layers(Module& model);

// Freezes every BatchNorm layer: running statistics in every mode, no buffer updates, no gradient
// for weight and bias (gradients they already hold are dropped, so no optimizer step moves them),
// and model->train() does not undo it. Returns how many layers it froze.
int freeze_batchnorm(Module& model);
// Back to PyTorch's behaviour (BatchNormMode::Auto), weight/bias trainable again as before.
int unfreeze_batchnorm(Module& model);

// Resets every tracking BatchNorm layer's running statistics and recomputes them as the plain
// average over the batches `next_batch` yields (it returns false when there are no more), at most
// max_batches of them (-1: all). No gradients, no parameter changes; every other module runs in
// eval mode (Dropout off). Each module's mode and momentum are restored afterwards, even on error.
// Returns the number of batches used.
int64_t recalibrate_batchnorm(Module& model, const std::function<bool(Tensor&)>& next_batch,
                              int64_t max_batches = -1);

// The same over any range of batches: elements are Tensors, or have a Tensor member `data`.
template <typename Range>
int64_t recalibrate_batchnorm(Module& model, Range& batches, int64_t max_batches = -1) {
  auto it = std::begin(batches);
  auto end = std::end(batches);
  return recalibrate_batchnorm(
      model,
      [&](Tensor& out) {
        if (it == end) return false;
        if constexpr (requires { (*it).data; }) out = (*it).data;
        else out = *it;
        ++it;
        return true;
      },
      max_batches);
}

// A new model (a clone), in eval mode, where each Conv2d directly followed by a BatchNorm2d (and
// each Linear directly followed by a BatchNorm1d) in a container's layer list (Sequential, a
// Residual's body; anywhere in the tree) becomes one layer with
//   s = γ / sqrt(running_var + eps),  W' = W·s (per output channel),  b' = (b − running_mean)·s + β,
// and the BatchNorm's slot an Identity (so the other layers keep their names, as PyTorch's
// fuse_modules). Its outputs equal the original's eval-mode outputs (within float rounding).
// BatchNorms that cannot be folded (no running statistics, batch-stats mode) stay. `folded`
// (optional) receives how many BatchNorm layers were folded away.
std::shared_ptr<Module> fold_batchnorm(const Module& model, int* folded = nullptr);

template <typename Impl>
std::shared_ptr<Module> fold_batchnorm(const ModuleHolder<Impl>& model, int* folded = nullptr) {
  return fold_batchnorm(*model, folded);
}

}  // namespace wick::nn
