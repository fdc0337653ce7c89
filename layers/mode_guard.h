// nn::ModeGuard: remembers the train/eval state of a module tree (every module's training flag,
// every BatchNorm layer's mode and momentum) and puts it back when it goes out of scope, also when
// an exception leaves the scope.
#pragma once
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "batchnorm.h"
#include "module.h"

namespace wick::nn {

// { nn::ModeGuard guard(model, /*training=*/false); ... }  runs the block in eval mode and leaves
// the model exactly as it was, whatever the block switched (train(), set_mode, momentum).
// The model must outlive the guard; a child swapped in meanwhile (replace_module) is not restored.
class ModeGuard {
 public:
  // Remembers the state only.
  explicit ModeGuard(Module& model);
  // Remembers the state, then calls model.train(training).
  ModeGuard(Module& model, bool training);
  ~ModeGuard();
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  struct BatchNormState {
    std::shared_ptr<BatchNormImplBase> bn;
    BatchNormMode mode;
    std::optional<double> momentum;
  };
  std::vector<std::pair<std::shared_ptr<Module>, bool>> flags_;  // parents before descendants
  std::vector<BatchNormState> batchnorms_;
};

}  // namespace wick::nn
