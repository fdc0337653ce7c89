// Learning-rate schedulers, PyTorch 1.13's formulas: StepLR, MultiStepLR, LinearLR, CosineAnnealingLR
// (the recursive form) and OneCycleLR (with momentum cycling). Each acts on every parameter group.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/options.h"
#include "optimizer.h"

namespace wick::optim {

// Construction records each group's current lr as its base lr and applies the schedule's lr for
// epoch 0 (as PyTorch's constructors do). Call step() once per epoch or once per iteration, as
// suits the schedule: the scheduler only counts its own steps (last_epoch()). Usually after
// optimizer.step(). The scheduler keeps a reference to the optimizer, which must outlive it.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch (or iteration) and sets every group's lr.
  void step();
  // The lr of each group as of the last step (or construction).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  // Each group's lr for last_epoch_ (already advanced). Group lrs still hold the previous values.
  virtual std::vector<double> get_lr() = 0;
  // Derived constructors call this last: PyTorch's initial step to epoch 0.
  void initial_step();

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;  // steps taken, the initial one included

 private:
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at each milestone epoch (a milestone listed k times multiplies by gamma^k).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr = base lr * a factor going linearly from start_factor to end_factor over total_iters steps,
// then staying at end_factor (a warm-up with the defaults), computed recursively as PyTorch does.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;

 private:
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

// Cosine annealing from each base lr down to eta_min over T_max epochs, then back up (a period of
// 2 T_max), computed recursively from the current lr as PyTorch 1.13 does (so an lr changed by hand
// in between carries on along the curve).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

enum class AnnealStrategy { Cos, Linear };

// OneCycleLR's options, PyTorch's defaults. max_lr: one value for all groups, or one per group.
// total_steps: for epochs E of S steps each, E * S. All are fixed at construction.
struct OneCycleLROptions {
  OneCycleLROptions(double max_lr, int64_t total_steps) : max_lr_({max_lr}), total_steps_(total_steps) {}
  OneCycleLROptions(std::vector<double> max_lr, int64_t total_steps)
      : max_lr_(std::move(max_lr)), total_steps_(total_steps) {}
  WICK_ARG(std::vector<double>, max_lr);
  WICK_ARG(int64_t, total_steps);
  WICK_ARG(double, pct_start) = 0.3;
  WICK_ARG(AnnealStrategy, anneal_strategy) = AnnealStrategy::Cos;
  // Cycles SGD's momentum (or Adam's beta1) inversely to the lr, between these bounds.
  WICK_ARG(bool, cycle_momentum) = true;
  WICK_ARG(double, base_momentum) = 0.85;
  WICK_ARG(double, max_momentum) = 0.95;
  WICK_ARG(double, div_factor) = 25.0;        // initial lr = max_lr / div_factor
  WICK_ARG(double, final_div_factor) = 1e4;   // min lr = initial lr / final_div_factor
  WICK_ARG(bool, three_phase) = false;
};

// The 1cycle policy (Smith): lr from max_lr/div_factor up to max_lr over pct_start of the steps,
// then down to the minimum (with three_phase: back to the initial lr first, then down), stepped
// once per batch. Stepping past total_steps is an error, as in PyTorch. With cycle_momentum the
// momentum (SGD) or beta1 (Adam, AdamW) of every group is set too, starting at max_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);

 protected:
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    int start_lr, end_lr, start_momentum, end_momentum;  // indices into a group's anchors below
  };
  double anneal(double start, double end, double pct) const;

  OneCycleLROptions options_;
  std::vector<Phase> phases_;
  // Per group: {initial_lr, max_lr, min_lr} and {max_momentum, base_momentum}.
  std::vector<std::vector<double>> lr_anchors_, momentum_anchors_;
};

}  // namespace wick::optim
