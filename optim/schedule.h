// optim::Schedule, a learning-rate recipe for a whole run as train::fit drives it: an optional
// linear warm-up, then one of the schedulers (step, multistep, cosine, onecycle), stepped after
// every optimizer step, with epoch-based settings turned into step counts.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../core/options.h"
#include "scheduler.h"

namespace wick::optim {

enum class ScheduleKind { None, Step, MultiStep, Cosine, OneCycle };

// Read once, when the Schedule is built. Epoch counts are whole epochs of the run.
struct ScheduleOptions {
  WICK_ARG(ScheduleKind, kind) = ScheduleKind::None;
  // Step: lr *= gamma every step_size epochs. MultiStep: lr *= gamma at each milestone epoch.
  WICK_ARG(int64_t, step_size) = 1;
  WICK_ARG(std::vector<int64_t>, milestones) = {};
  WICK_ARG(double, gamma) = 0.1;
  // The first warmup_epochs epochs: LinearLR from warmup_start_factor * lr up to lr (the
  // torchvision reference recipe's factor); the main schedule then runs over the remaining epochs.
  WICK_ARG(int64_t, warmup_epochs) = 0;
  WICK_ARG(double, warmup_start_factor) = 0.01;

 public:
  bool enabled() const { return kind_ != ScheduleKind::None || warmup_epochs_ > 0; }
};

// Built before the first step (it sets every group's lr for step 1); step() after each optimizer
// step. Each group's lr at construction is its base lr (OneCycle: its max_lr). Cosine anneals to 0
// over the main phase's steps; OneCycle uses PyTorch's defaults (pct_start 0.3, cos, div_factor
// 25, final_div_factor 1e4, momentum cycled 0.85-0.95). Keeps a reference to the optimizer.
class Schedule {
 public:
  Schedule(Optimizer& optimizer, const ScheduleOptions& options, int64_t epochs, int64_t steps_per_epoch);
  void step();

 private:
  std::unique_ptr<LRScheduler> main_phase();

  Optimizer& optimizer_;
  ScheduleOptions options_;
  int64_t steps_per_epoch_, main_steps_, warmup_steps_, done_ = 0;
  std::vector<double> base_lrs_;
  std::unique_ptr<LRScheduler> current_;  // null: constant lr
};

}  // namespace wick::optim
