// freeze / unfreeze and recalibrate (a cumulative average in a no-grad pass); fold_batchnorm is
// one of the rewrites in layers/fuse.cpp.
#include "layers/bn_tools.h"

#include "core/autograd.h"
#include "layers/mode_guard.h"

namespace wick::nn {

std::vector<std::pair<std::string, std::shared_ptr<BatchNormImplBase>>> batchnorm_layers(Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<BatchNormImplBase>>> out;
  for (auto& [name, m] : model.named_modules())
    if (auto bn = std::dynamic_pointer_cast<BatchNormImplBase>(m)) out.emplace_back(name, bn);
  return out;
}

int freeze_batchnorm(Module& model) {
  int n = 0;
  for (auto& [name, bn] : batchnorm_layers(model)) {
    bn->set_mode(BatchNormMode::Frozen);
    // A gradient held from before the freeze would still move the layer: an optimizer steps every
    // parameter with a gradient (zero_grad(false) keeps zeros, and momentum or weight decay act on
    // zeros too).
    for (Tensor* p : {&bn->weight, &bn->bias})
      if (p->defined()) p->set_grad(Tensor());
    ++n;
  }
  return n;
}

int unfreeze_batchnorm(Module& model) {
  int n = 0;
  for (auto& [name, bn] : batchnorm_layers(model)) {
    bn->set_mode(BatchNormMode::Auto);
    ++n;
  }
  return n;
}

int64_t recalibrate_batchnorm(Module& model, const std::function<bool(Tensor&)>& next_batch, int64_t max_batches) {
  ModeGuard restore(model);
  auto bns = batchnorm_layers(model);
  model.eval();  // Dropout and everything else off
  for (auto& [name, bn] : bns) {
    if (!bn->options.track_running_stats()) continue;
    bn->set_mode(BatchNormMode::Auto);
    bn->reset_running_stats();
    bn->options.momentum(std::nullopt);  // cumulative average: every batch weighs the same
    bn->train(true);
  }
  NoGradGuard no_grad;
  int64_t used = 0;
  Tensor batch;
  while ((max_batches < 0 || used < max_batches) && next_batch(batch)) {
    model.forward(batch);
    ++used;
  }
  return used;
}

}  // namespace wick::nn
