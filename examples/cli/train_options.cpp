// The training-loop flags of wick train and wick finetune: the checks of flags that contradict
// each other (bad usage), the validation hold-out, and their mapping onto train::FitOptions.
#include "train_options.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace wick::cli {
namespace {

template <typename... Parts>
[[noreturn]] void usage(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw UsageError(os.str());
}

bool has(const std::vector<std::string>& list, const char* name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

void check_schedule(const LoopArgs& a) {
  const std::string& s = a.scheduler;
  if (a.step_size && s != "step") usage("--step-size needs --scheduler step (got --scheduler ", s, ")");
  if (!a.milestones.empty() && s != "multistep")
    usage("--milestones needs --scheduler multistep (got --scheduler ", s, ")");
  if (a.gamma && s != "step" && s != "multistep")
    usage("--gamma needs --scheduler step or multistep (got --scheduler ", s, ")");
  if (s == "step" && !a.step_size) usage("--scheduler step needs --step-size N (epochs)");
  if (s == "multistep" && a.milestones.empty()) usage("--scheduler multistep needs --milestones E1,E2,...");
  if (a.warmup_epochs >= a.epochs)
    usage("--warmup-epochs ", a.warmup_epochs, " must be less than --epochs ", a.epochs);
  for (size_t i = 0; i < a.milestones.size(); ++i) {
    const int64_t m = a.milestones[i];
    if (i > 0 && m <= a.milestones[i - 1]) usage("--milestones must increase, got ", a.milestones[i - 1], " then ", m);
    if (m <= a.warmup_epochs || m >= a.epochs)
      usage("--milestones: ", m, " is not after --warmup-epochs ", a.warmup_epochs, " and before --epochs ", a.epochs);
  }
}

void check_augment(const LoopArgs& a) {
  for (const std::string& name : a.augment) {
    if (name != "none" && name != "crop" && name != "flip")
      usage("--augment: unknown \"", name, "\" (crop, flip, or none)");
    if (name == "none" && a.augment.size() > 1) usage("--augment: none cannot be combined with crop or flip");
  }
  if (a.crop_padding && !has(a.augment, "crop")) usage("--crop-padding needs --augment crop");
}

}  // namespace

void check_training_args(const TrainArgs& t) {
  const LoopArgs& a = t.loop;
  check_schedule(a);
  check_augment(a);
  if (a.label_smoothing >= 1) usage("--label-smoothing must be in [0, 1), got ", a.label_smoothing);
  if (a.val_split != 0 && !(a.val_split > 0 && a.val_split < 1))
    usage("--val-split must be a fraction in (0, 1), got ", a.val_split);
  if (!a.save_best.empty() && a.val_split == 0) usage("--save-best needs --val-split (the best epoch is chosen on it)");
  if (t.optim.nesterov && t.optim.name != "sgd")
    usage("--nesterov is for --optimizer sgd only (got --optimizer ", t.optim.name, ")");
  if (t.optim.nesterov && t.optim.momentum == 0) usage("--nesterov needs --momentum above 0");
}

void hold_out_validation(Data& data, const LoopArgs& a) {
  if (a.val_split == 0) return;
  data::HoldOut split = data::hold_out(data.train, a.val_split, a.seed);
  data.train = std::make_shared<data::Subset>(std::move(split.kept));
  data.validation = std::make_shared<data::Subset>(std::move(split.held_out));
  if (!a.quiet)
    std::printf("holding out %lld training images for validation (--val-split %g, --seed %llu)\n",
                static_cast<long long>(data.validation->size()), a.val_split, static_cast<unsigned long long>(a.seed));
}

train::FitOptions fit_options(const LoopArgs& a, const Data& data) {
  using optim::ScheduleKind;
  const ScheduleKind kind = a.scheduler == "step"        ? ScheduleKind::Step
                            : a.scheduler == "multistep" ? ScheduleKind::MultiStep
                            : a.scheduler == "cosine"    ? ScheduleKind::Cosine
                            : a.scheduler == "onecycle"  ? ScheduleKind::OneCycle
                                                         : ScheduleKind::None;
  optim::ScheduleOptions schedule;
  schedule.kind(kind).milestones(a.milestones).warmup_epochs(a.warmup_epochs);
  if (a.step_size) schedule.step_size(*a.step_size);
  if (a.gamma) schedule.gamma(*a.gamma);
  data::Augmentation augmentation;
  augmentation.crop_padding(has(a.augment, "crop") ? a.crop_padding.value_or(4) : 0)
      .horizontal_flip(has(a.augment, "flip"));
  return train::FitOptions()
      .epochs(a.epochs)
      .batch_size(a.batch_size)
      .shuffle(a.shuffle)
      .seed(a.seed)
      .max_steps(a.max_steps)
      .test_set(data.test)
      .validation_set(data.validation)
      .save_best(a.save_best)
      .schedule(schedule)
      .grad_clip(a.grad_clip)
      .label_smoothing(a.label_smoothing)
      .augmentation(augmentation)
      .metrics_csv(a.metrics_csv)
      .steps_csv(a.steps_csv)
      .plot_svg(a.plot_svg)
      .plot_title(data.name)
      .progress(!a.quiet);
}

}  // namespace wick::cli
