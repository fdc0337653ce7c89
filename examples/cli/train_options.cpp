// The training-loop flags of wick train and wick finetune: the checks of flags that contradict
// each other (bad usage), the validation hold-out, their mapping onto train::FitOptions, and wick
// train's checkpoint flags with the run's flags that --resume restores.
#include "train_options.h"

#include "flags.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
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

// Not part of a run's settings.
bool not_a_setting(const std::string& flag) { return flag == "--resume" || flag == "--checkpoint-dir" || flag == "--help"; }

// Flags that do not change what a run computes: a resumed run may give them new values.
bool free_on_resume(const std::string& flag) {
  for (const char* f : {"--threads", "--quiet", "--json", "--checkpoint-every", "--save", "--metrics", "--plot",
                        "--step-metrics"})
    if (flag == f) return true;
  return false;
}

}  // namespace

void add_checkpoint_flags(CLI::App* cmd, CheckpointArgs& c) {
  cmd->add_option("--checkpoint-dir", c.dir,
                  "write checkpoints here: after every epoch, every --checkpoint-every steps, and on Ctrl-C or "
                  "SIGTERM (then exit 130 or 143); the newest 2 are kept")
      ->type_name("DIR");
  cmd->add_option("--checkpoint-every", c.every, "also write a checkpoint every STEPS steps")
      ->type_name("STEPS")
      ->check(nonnegative_number());
  cmd->add_option("--resume", c.resume,
                  "continue the run checkpointed in DIR, to the same bits as if it had not stopped (its flags are "
                  "restored; only --threads, --quiet, --json, --checkpoint-every and the output files may change)")
      ->type_name("DIR");
}

void resolve_run_settings(CLI::App* cmd, TrainArgs& t) {
  CheckpointArgs& c = t.checkpoint;
  if (!c.resume.empty()) {
    if (!c.dir.empty() && c.dir != c.resume)
      usage("--resume ", c.resume, " and --checkpoint-dir ", c.dir, " name different folders (a resumed run goes on "
            "writing checkpoints where it was)");
    c.dir = c.resume;
  }
  if (c.every > 0 && c.dir.empty()) usage("--checkpoint-every needs --checkpoint-dir DIR");
  if (c.resume.empty()) {
    nlohmann::json flags = nlohmann::json::object();
    for (const CLI::Option* o : cmd->get_options())
      if (o->count() > 0 && !not_a_setting(o->get_name())) flags[o->get_name()] = o->results();
    c.settings = flags.dump();
    return;
  }
  const std::string& dir = c.dir;
  const std::string folder = train::latest_checkpoint(dir);
  if (folder.empty()) usage("--resume ", dir, ": no checkpoint there (wick train --checkpoint-dir writes them)");
  c.settings = train::read_checkpoint(folder).settings;
  nlohmann::json stored = nlohmann::json::parse(c.settings, nullptr, false);
  if (!stored.is_object()) usage("--resume ", dir, ": the checkpoint was not written by wick train (no flags stored)");
  auto words = [](const nlohmann::json& values) {
    std::string s;
    for (const auto& v : values) s += (s.empty() ? "" : ",") + v.get<std::string>();
    return s;
  };
  for (CLI::Option* o : cmd->get_options()) {
    const std::string name = o->get_name();
    if (not_a_setting(name)) continue;
    auto it = stored.find(name);
    if (it != stored.end() &&
        (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const auto& v) { return v.is_string(); })))
      usage("--resume ", dir, ": the stored value of ", name, " is not a list of words");
    if (o->count() > 0 && free_on_resume(name)) continue;  // the new value
    if (o->count() > 0) {
      if (it == stored.end())
        usage("--resume: the run was started without ", name, "; leave ", name, " ", words(o->results()),
              " out (a resumed run keeps its flags)");
      if (*it != nlohmann::json(o->results()))
        usage("--resume: the run was started with ", name, " ", words(*it), ", not ", words(o->results()),
              " (a resumed run keeps its flags)");
    } else if (it != stored.end()) {
      o->add_result(it->get<std::vector<std::string>>());
      o->run_callback();
    }
  }
}

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
