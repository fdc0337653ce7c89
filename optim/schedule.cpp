// Schedule: the warm-up phase, then the main scheduler built when the warm-up ends (so it starts
// from the base lrs, as PyTorch's SequentialLR restarts its next scheduler at step 0).
#include "optim/schedule.h"

namespace wick::optim {

Schedule::Schedule(Optimizer& optimizer, const ScheduleOptions& options, int64_t epochs, int64_t steps_per_epoch)
    : optimizer_(optimizer), options_(options), steps_per_epoch_(steps_per_epoch) {
  const auto& o = options_;
  WICK_CHECK(epochs >= 1 && steps_per_epoch >= 1, "Schedule: epochs and steps_per_epoch must be positive, got ",
             epochs, " and ", steps_per_epoch);
  WICK_CHECK(o.warmup_epochs() >= 0 && o.warmup_epochs() < epochs, "Schedule: warmup_epochs must be in [0, epochs = ",
             epochs, "), got ", o.warmup_epochs());
  WICK_CHECK(o.kind() != ScheduleKind::Step || o.step_size() >= 1, "Schedule: step_size must be >= 1, got ",
             o.step_size());
  warmup_steps_ = o.warmup_epochs() * steps_per_epoch;
  main_steps_ = (epochs - o.warmup_epochs()) * steps_per_epoch;
  for (auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
  if (warmup_steps_ > 0)
    current_ = std::make_unique<LinearLR>(optimizer_, o.warmup_start_factor(), 1.0, warmup_steps_);
  else
    current_ = main_phase();
}

std::unique_ptr<LRScheduler> Schedule::main_phase() {
  const auto& o = options_;
  switch (o.kind()) {
    case ScheduleKind::None:
      return nullptr;
    case ScheduleKind::Step:
      return std::make_unique<StepLR>(optimizer_, o.step_size() * steps_per_epoch_, o.gamma());
    case ScheduleKind::MultiStep: {
      // Milestones count epochs of the whole run; the main phase starts after the warm-up.
      std::vector<int64_t> at;
      for (int64_t m : o.milestones()) at.push_back((m - o.warmup_epochs()) * steps_per_epoch_);
      return std::make_unique<MultiStepLR>(optimizer_, at, o.gamma());
    }
    case ScheduleKind::Cosine:
      return std::make_unique<CosineAnnealingLR>(optimizer_, main_steps_);
    case ScheduleKind::OneCycle:
      return std::make_unique<OneCycleLR>(optimizer_, OneCycleLROptions(base_lrs_, main_steps_));
  }
  return nullptr;
}

void Schedule::step() {
  ++done_;
  if (done_ == warmup_steps_) {  // the warm-up is over: the main phase starts from the base lrs
    for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_.param_groups()[g].set_lr(base_lrs_[g]);
    current_ = main_phase();
  } else if (current_) {
    current_->step();
  }
}

}  // namespace wick::optim
