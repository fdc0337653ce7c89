// ModeGuard: a snapshot of the tree's modes taken in the constructor, replayed in the destructor.
#include "layers/mode_guard.h"

namespace wick::nn {

ModeGuard::ModeGuard(Module& model) {
  for (auto& [name, m] : model.named_modules()) {
    flags_.emplace_back(m, m->is_training());
    if (auto bn = std::dynamic_pointer_cast<BatchNormImplBase>(m))
      batchnorms_.push_back({bn, bn->mode(), bn->options.momentum()});
  }
}

ModeGuard::ModeGuard(Module& model, bool training) : ModeGuard(model) { model.train(training); }

ModeGuard::~ModeGuard() {
  // named_modules() lists parents before their descendants, so a parent's recursive train() is
  // overridden by each descendant's own call that follows.
  for (auto& [m, on] : flags_) m->train(on);
  for (auto& s : batchnorms_) {
    s.bn->options.momentum(s.momentum);
    s.bn->set_mode(s.mode);
  }
}

}  // namespace wick::nn
