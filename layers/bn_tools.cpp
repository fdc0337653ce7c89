// freeze / unfreeze and recalibrate (a cumulative average in a no-grad pass); fold_batchnorm is
// one of the rewrites in layers/fuse.cpp.
#include "layers/bn_tools.h"

#include "core/autograd.h"

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

namespace {

// Remembers every module's training flag and every BN layer's mode and momentum, and puts them
// back when it goes out of scope.
class ModeSnapshot {
 public:
  explicit ModeSnapshot(Module& model) {
    for (auto& [name, m] : model.named_modules()) flags_.emplace_back(m, m->is_training());
    for (auto& [name, bn] : batchnorm_layers(model)) bns_.push_back({bn, bn->mode(), bn->options.momentum()});
  }
  ~ModeSnapshot() {
    // named_modules() lists parents before their descendants, so a parent's recursive train()
    // is overridden by each descendant's own call that follows.
    for (auto& [m, on] : flags_) m->train(on);
    for (auto& s : bns_) {
      s.bn->options.momentum(s.momentum);
      s.bn->set_mode(s.mode);
    }
  }
  ModeSnapshot(const ModeSnapshot&) = delete;
  ModeSnapshot& operator=(const ModeSnapshot&) = delete;

 private:
  struct BnState {
    std::shared_ptr<BatchNormImplBase> bn;
    BatchNormMode mode;
    std::optional<double> momentum;
  };
  std::vector<std::pair<std::shared_ptr<Module>, bool>> flags_;
  std::vector<BnState> bns_;
};

}  // namespace

int64_t recalibrate_batchnorm(Module& model, const std::function<bool(Tensor&)>& next_batch, int64_t max_batches) {
  ModeSnapshot restore(model);
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
