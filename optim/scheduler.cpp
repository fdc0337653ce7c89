// LR schedulers: the shared step logic and each schedule's get_lr, in PyTorch 1.13's arithmetic
// (the same double operations in the same order, so the lrs match PyTorch's to the bit).
#include "optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

// Python evaluates these formulas without fused multiply-adds; GCC would contract a * b + c across
// the whole file (its C++ default), so it is switched off here to keep PyTorch's bits.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace wick::optim {

// ---------------------------------------------------------------- LRScheduler

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (auto& g : optimizer_.param_groups()) base_lrs_.push_back(g.lr());
}

void LRScheduler::initial_step() { step(); }

void LRScheduler::step() {
  auto& groups = optimizer_.param_groups();
  WICK_CHECK(groups.size() == base_lrs_.size(), "LRScheduler::step: the optimizer has ", groups.size(),
             " parameter groups but the scheduler was built for ", base_lrs_.size());
  ++step_count_;
  ++last_epoch_;
  std::vector<double> lrs;
  try {
    lrs = get_lr();
  } catch (...) {
    --step_count_;
    --last_epoch_;
    throw;
  }
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_lr_ = std::move(lrs);
}

namespace {
std::vector<double> current_lrs(Optimizer& opt) {
  std::vector<double> out;
  for (auto& g : opt.param_groups()) out.push_back(g.lr());
  return out;
}
}  // namespace

// ---------------------------------------------------------------- StepLR, MultiStepLR

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  WICK_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  WICK_CHECK(std::isfinite(gamma) && gamma >= 0, "StepLR: gamma must be finite and >= 0, got ", gamma);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  WICK_CHECK(std::isfinite(gamma) && gamma >= 0, "MultiStepLR: gamma must be finite and >= 0, got ", gamma);
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (hits == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, double(hits));
  return lrs;
}

// ---------------------------------------------------------------- LinearLR

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  WICK_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ", start_factor);
  WICK_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
  WICK_CHECK(total_iters >= 1, "LinearLR: total_iters must be >= 1, got ", total_iters);
  initial_step();
}

// lr_0 = lr * start; lr_t = lr_{t-1} * (1 + (end - start) / (T start + (t - 1)(end - start))) up to t = T.
std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double d = end_factor_ - start_factor_;
  for (double& lr : lrs)
    lr = lr * (1.0 + d / (double(total_iters_) * start_factor_ + double(last_epoch_ - 1) * d));
  return lrs;
}

// ---------------------------------------------------------------- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  WICK_CHECK(T_max >= 1, "CosineAnnealingLR: T_max must be >= 1, got ", T_max);
  WICK_CHECK(std::isfinite(eta_min) && eta_min >= 0, "CosineAnnealingLR: eta_min must be finite and >= 0, got ",
             eta_min);
  initial_step();
}

// PyTorch's recursive form: lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t-1) / T)),
// except at the bottom of each cycle ((t - 1 - T) mod 2T == 0), where the ratio would be 0/0 and the
// lr instead rises by (base - eta_min) * (1 - cos(pi / T)) / 2. (PyTorch's closed-form branch for a
// scheduler resumed with last_epoch > 0 does not arise: wick's schedulers always start at -1.)
std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  if (last_epoch_ == 0) return lrs;
  const double pi = std::numbers::pi, T = double(T_max_), t = double(last_epoch_);
  int64_t r = (last_epoch_ - 1 - T_max_) % (2 * T_max_);
  if (r == 0) {
    for (size_t g = 0; g < lrs.size(); ++g) lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(pi * t / T)) / (1 + std::cos(pi * (t - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

// ---------------------------------------------------------------- OneCycleLR

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler(optimizer), options_(options) {
  const auto& o = options_;
  const size_t groups = optimizer.param_groups().size();
  WICK_CHECK(o.total_steps() >= 1, "OneCycleLR: total_steps must be a positive integer, got ", o.total_steps());
  WICK_CHECK(o.pct_start() >= 0 && o.pct_start() <= 1, "OneCycleLR: pct_start must be in [0, 1], got ",
             o.pct_start());
  WICK_CHECK(o.max_lr().size() == 1 || o.max_lr().size() == groups, "OneCycleLR: expected 1 or ", groups,
             " values for max_lr (one per parameter group), got ", o.max_lr().size());
  for (double m : o.max_lr())
    WICK_CHECK(std::isfinite(m) && m >= 0, "OneCycleLR: max_lr must be finite and >= 0, got ", m);
  WICK_CHECK(std::isfinite(o.div_factor()) && o.div_factor() > 0, "OneCycleLR: div_factor must be > 0, got ",
             o.div_factor());
  WICK_CHECK(std::isfinite(o.final_div_factor()) && o.final_div_factor() > 0,
             "OneCycleLR: final_div_factor must be > 0, got ", o.final_div_factor());
  if (o.cycle_momentum())
    for (double m : {o.base_momentum(), o.max_momentum()})
      WICK_CHECK(std::isfinite(m) && m >= 0 && m < 1, "OneCycleLR: momentum bounds must be in [0, 1), got ", m);

  const double total = double(o.total_steps());
  enum { kInitial = 0, kMax = 1, kMin = 2, kMaxMom = 0, kBaseMom = 1 };
  if (o.three_phase())
    phases_ = {{o.pct_start() * total - 1, kInitial, kMax, kMaxMom, kBaseMom},
               {2 * o.pct_start() * total - 2, kMax, kInitial, kBaseMom, kMaxMom},
               {total - 1, kInitial, kMin, kMaxMom, kMaxMom}};
  else
    phases_ = {{o.pct_start() * total - 1, kInitial, kMax, kMaxMom, kBaseMom},
               {total - 1, kMax, kMin, kBaseMom, kMaxMom}};

  base_lrs_.clear();
  for (size_t g = 0; g < groups; ++g) {
    const double max_lr = o.max_lr().size() == 1 ? o.max_lr()[0] : o.max_lr()[g];
    const double initial = max_lr / o.div_factor();
    lr_anchors_.push_back({initial, max_lr, initial / o.final_div_factor()});
    momentum_anchors_.push_back({o.max_momentum(), o.base_momentum()});
    base_lrs_.push_back(initial);
    if (o.cycle_momentum()) optimizer.param_groups()[g].options().set_momentum(o.max_momentum());
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.anneal_strategy() == AnnealStrategy::Linear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch_;
  WICK_CHECK(step_num <= options_.total_steps(), "OneCycleLR: tried to step ", step_num + 1,
             " times; the specified number of total steps is ", options_.total_steps());
  auto& groups = optimizer_.param_groups();
  std::vector<double> lrs, momenta;
  for (size_t g = 0; g < groups.size(); ++g) {
    double start_step = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& ph = phases_[i];
      if (double(step_num) <= ph.end_step || i + 1 == phases_.size()) {
        WICK_CHECK(ph.end_step != start_step, "OneCycleLR: phase ", i + 1, " of the schedule has no length (",
                   "pct_start ", options_.pct_start(), " with total_steps ", options_.total_steps(), ")");
        const double pct = (double(step_num) - start_step) / (ph.end_step - start_step);
        lrs.push_back(anneal(lr_anchors_[g][ph.start_lr], lr_anchors_[g][ph.end_lr], pct));
        momenta.push_back(anneal(momentum_anchors_[g][ph.start_momentum], momentum_anchors_[g][ph.end_momentum], pct));
        break;
      }
      start_step = ph.end_step;
    }
  }
  if (options_.cycle_momentum())
    for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_momentum(momenta[g]);
  return lrs;
}

}  // namespace wick::optim
