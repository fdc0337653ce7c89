// fit: the epoch loop, the running figures of one epoch, the evaluations and what is written after
// each epoch, and where checkpoints are written and resumed.
#include "optim/fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/ops/loss.h"
#include "data/dataloader.h"
#include "core/random.h"
#include "layers/batchnorm.h"
#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/data_parallel.h"
#include "optim/evaluate.h"
#include "optim/progress.h"
#include "optim/step_memory.h"

namespace wick::train {
namespace {

void check_options(const FitOptions& o) {
  WICK_CHECK(o.epochs() > 0, "fit: epochs must be positive, got ", o.epochs());
  WICK_CHECK(o.batch_size() > 0, "fit: batch_size must be positive, got ", o.batch_size());
  WICK_CHECK(o.max_steps() >= 0, "fit: max_steps must be >= 0 (0: no limit), got ", o.max_steps());
  WICK_CHECK(o.grad_clip() >= 0, "fit: grad_clip must be >= 0 (0: off), got ", o.grad_clip());
  WICK_CHECK(o.label_smoothing() >= 0 && o.label_smoothing() < 1, "fit: label_smoothing must be in [0, 1), got ",
             o.label_smoothing());
  WICK_CHECK(o.save_best().empty() || o.validation_set(), "fit: save_best needs a validation_set");
  WICK_CHECK(o.checkpoint_every() >= 0, "fit: checkpoint_every must be >= 0 (0: at epoch ends only), got ",
             o.checkpoint_every());
  WICK_CHECK(o.checkpoint_keep() >= 1, "fit: checkpoint_keep must be at least 1, got ", o.checkpoint_keep());
  WICK_CHECK(!o.checkpoint_dir().empty() || (!o.resume() && o.checkpoint_every() == 0),
             "fit: resume and checkpoint_every need a checkpoint_dir");
  WICK_CHECK(!o.stop_signal() || !o.checkpoint_dir().empty(),
             "fit: stop_signal needs a checkpoint_dir (the run is checkpointed where it stops)");
}

// What shapes the run, as a JSON object: a resumed run must agree on every key.
std::string run_options(const FitOptions& o, const optim::Optimizer& optimizer, const data::Dataset& train,
                        int64_t batches) {
  auto size = [](const std::shared_ptr<const data::Dataset>& d) { return d ? d->size() : int64_t{-1}; };
  const optim::ScheduleOptions& s = o.schedule();
  nlohmann::json j = {{"epochs", o.epochs()},
                      {"batch_size", o.batch_size()},
                      {"batches_per_epoch", batches},
                      {"shuffle", o.shuffle()},
                      {"seed", o.seed()},
                      {"max_steps", o.max_steps()},
                      {"schedule", {static_cast<int>(s.kind()), s.step_size(), s.milestones(), s.gamma(),
                                    s.warmup_epochs(), s.warmup_start_factor()}},
                      {"grad_clip", o.grad_clip()},
                      {"label_smoothing", o.label_smoothing()},
                      {"augmentation", {o.augmentation().crop_padding(), o.augmentation().horizontal_flip()}},
                      {"train_size", train.size()},
                      {"validation_size", size(o.validation_set())},
                      {"test_size", size(o.test_set())},
                      {"save_best", !o.save_best().empty()},
                      {"processes", dist::world_size()},
                      {"optimizer", optimizer.name()},
                      {"parameters", optimizer.parameters().size()}};
  return j.dump();
}

// Refuses to resume a run under other options, naming the first that differs.
void check_same_run(const std::string& stored, const std::string& current, const std::string& folder) {
  auto was = nlohmann::json::parse(stored), is = nlohmann::json::parse(current);
  for (auto& [key, value] : is.items())
    WICK_CHECK(was.contains(key) && was[key] == value, "fit: cannot resume from ", folder, ": it was run with ", key,
               " = ", was.contains(key) ? was[key].dump() : "(none)", ", this run has ", value.dump());
}

// The sums over the processes of n values, added in rank order: the same bits on every process.
std::vector<double> sum_over_processes(const std::vector<double>& mine) {
  const size_t n = mine.size();
  std::vector<double> all(n * static_cast<size_t>(dist::world_size())), sum(n, 0.0);
  dist::all_gather(mine.data(), static_cast<int64_t>(n), all.data());
  for (size_t i = 0; i < all.size(); ++i) sum[i % n] += all[i];
  return sum;
}

// The largest of one value over the processes: what they all act on.
int64_t max_over_processes(int64_t value) {
  int64_t lo = value, hi = value;
  dist::min_max(value, lo, hi);
  return hi;
}

// evaluate() with `set` shared among the processes (each takes a contiguous 1/P of it), the
// counts and loss sums added up: every process gets the figures of the whole set.
EvalResult evaluate_shared(nn::Module& model, const std::shared_ptr<const data::Dataset>& set, int64_t batch) {
  const int64_t processes = dist::world_size(), rank = dist::rank(), n = set->size();
  if (processes == 1) return evaluate(model, *set, batch);
  std::vector<int64_t> share(static_cast<size_t>(n * (rank + 1) / processes - n * rank / processes));
  std::iota(share.begin(), share.end(), n * rank / processes);
  std::vector<double> mine{0, 0, 0};  // loss sum, correct, images
  if (!share.empty()) {
    EvalResult e = evaluate(model, data::Subset(set, std::move(share)), batch);
    mine = {e.loss * static_cast<double>(e.images), static_cast<double>(e.correct), static_cast<double>(e.images)};
  }
  const std::vector<double> sum = sum_over_processes(mine);
  EvalResult r;
  r.correct = static_cast<int64_t>(sum[1]);
  r.images = static_cast<int64_t>(sum[2]);
  r.loss = sum[0] / sum[2];
  r.accuracy = sum[1] / sum[2];
  return r;
}

// Whether every module with buffers of its own is a synchronized BatchNorm.
bool all_synced(nn::Module& model) {
  for (auto& [name, m] : model.named_modules()) {
    if (m->named_buffers(false).empty()) continue;
    auto bn = std::dynamic_pointer_cast<nn::BatchNormImplBase>(m);
    if (!bn || !bn->sync()) return false;
  }
  return true;
}

// What a step needs besides the batch.
struct Stepper {
  nn::Module& model;
  optim::Optimizer& optimizer;
  const FitOptions& options;
  std::vector<Tensor> params;  // every group's, for clipping
  std::unique_ptr<DataParallel> parallel;  // when training on several processes

  // One step on `batch` (this process's share of it); the loss is checked before anything is
  // updated. The figures are the whole batch's, on every process.
  StepInfo step(const data::Batch& batch, int64_t done) {
    if (parallel) parallel->before_forward();
    Tensor logits = model.forward(batch.data);
    Tensor loss = cross_entropy(logits, batch.target, Reduction::Mean, options.label_smoothing());
    StepInfo s;
    s.step = done + 1;
    s.loss = loss.item<double>();
    s.lr = optimizer.lr(0);
    s.images = batch.size();
    s.correct = count_correct(logits, batch.target);
    optimizer.zero_grad();
    loss.backward();
    if (parallel) {
      parallel->after_backward();
      // Gathered once the processes meet anyway, after the gradients' sums. A loss that is not
      // finite anywhere then stops every process at this step, alike.
      const std::vector<double> sum = sum_over_processes(
          {s.loss * static_cast<double>(s.images), static_cast<double>(s.correct), static_cast<double>(s.images)});
      s.loss = sum[0] / sum[2];
      s.correct = static_cast<int64_t>(sum[1]);
      s.images = static_cast<int64_t>(sum[2]);
    }
    WICK_CHECK(std::isfinite(s.loss), "fit: training diverged at step ", s.step,
               " (the loss is not finite); try a smaller learning rate");
    if (options.grad_clip() > 0) optim::clip_grad_norm_(params, options.grad_clip());
    optimizer.step();
    return s;
  }
};

std::string epoch_summary(const EpochMetrics& e, const FitOptions& o) {
  char text[256];
  int n = std::snprintf(text, sizeof text, "train loss %.4f  train acc %s", e.train_loss,
                        format_percent(e.train_acc).c_str());
  if (o.validation_set())
    n += std::snprintf(text + n, sizeof text - n, "  val loss %.4f  val acc %s", e.val_loss,
                       format_percent(e.val_acc).c_str());
  if (o.test_set())
    n += std::snprintf(text + n, sizeof text - n, "  test loss %.4f  test acc %s", e.test_loss,
                       format_percent(e.test_acc).c_str());
  n += std::snprintf(text + n, sizeof text - n, "  %.0f img/s", e.img_per_s);
  if (o.schedule().enabled()) std::snprintf(text + n, sizeof text - n, "  lr %.4g", e.lr);
  return text;
}

}  // namespace

FitResult fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& train, const FitOptions& options,
              const FitHooks& hooks) {
  check_options(options);
  const int64_t processes = dist::world_size();
  const bool writer = dist::rank() == 0;  // the one process that prints and writes files
  WICK_CHECK(options.batch_size() % processes == 0, "fit: batch_size ", options.batch_size(),
             " does not divide among ", processes, " processes (each takes an equal share of every batch)");
  const int64_t share = options.batch_size() / processes;
  check_step_fits(model, train, share, "fit: batch_size");
  // The loader borrows the dataset (a non-owning shared_ptr): it lives only inside this call.
  std::shared_ptr<const data::Dataset> train_set(std::shared_ptr<const data::Dataset>(), &train);
  if (options.augmentation().enabled()) train_set = data::with_augmentation(train_set, options.augmentation());
  data::DataLoaderOptions loader_options(share);
  loader_options.shuffle(options.shuffle()).seed(options.seed()).num_replicas(processes).rank(dist::rank());
  data::DataLoader loader(train_set, loader_options);
  const int64_t batches = loader.size();
  const int64_t curve_every = std::max<int64_t>(1, batches / 20);  // a training point about every 5% of an epoch
  auto at = [&](int64_t epoch, int64_t in_epoch) {  // fractional epochs, the curves' x
    return static_cast<double>(epoch - 1) + static_cast<double>(in_epoch) / static_cast<double>(batches);
  };
  std::unique_ptr<optim::Schedule> schedule;
  if (options.schedule().enabled())
    schedule = std::make_unique<optim::Schedule>(optimizer, options.schedule(), options.epochs(), batches);
  Stepper stepper{model, optimizer, options, {}, nullptr};
  if (processes > 1)  // synchronized BatchNorms keep the same running statistics everywhere by themselves
    stepper.parallel = std::make_unique<DataParallel>(model, DataParallelOptions().broadcast_buffers(!all_synced(model)));
  for (auto& g : optimizer.param_groups())
    stepper.params.insert(stepper.params.end(), g.params().begin(), g.params().end());
  const int64_t eval_batch = std::max<int64_t>(options.batch_size(), 256);
  const std::string identity = run_options(options, optimizer, train, batches);
  FitResult result;
  RunState run;
  if (options.resume()) {
    const std::string folder = latest_checkpoint(options.checkpoint_dir());
    WICK_CHECK(!folder.empty(), "fit: no checkpoint to resume from in ", options.checkpoint_dir());
    CheckpointInfo info = read_checkpoint(folder);
    int64_t lo = info.state.steps, hi = info.state.steps;
    dist::min_max(info.state.steps, lo, hi);  // also keeps rank 0 from writing before all have read
    WICK_CHECK(lo == hi, "fit: the processes found different checkpoints in ", options.checkpoint_dir(),
               " (after steps ", lo, " to ", hi, "); it must be one folder all of them see");
    check_same_run(info.options, identity, folder);
    WICK_CHECK(info.state.in_epoch <= batches && info.state.epoch <= options.epochs() + 1, folder,
               "/run.json: the position (epoch ", info.state.epoch, ", step ", info.state.in_epoch,
               " of it) is outside the run");
    for (int64_t k = 0; schedule && k < info.state.steps; ++k) schedule->step();  // the lr of every step so far
    load_checkpoint(folder, model, optimizer);  // after the schedule: the file's lr and momentum win
    set_random_state(info.state.random_state);
    run = std::move(info.state);
    result.resumed_at = run.steps;
    result.last_checkpoint = folder;
  }
  auto checkpoint = [&](double epoch_seconds) {
    if (!writer) return;
    run.epoch_seconds = epoch_seconds;
    run.random_state = random_state();
    write_checkpoint(options.checkpoint_dir(), model, optimizer, run, identity, options.checkpoint_settings(),
                     options.checkpoint_keep());
    result.last_checkpoint = latest_checkpoint(options.checkpoint_dir());
  };
  // Every process must stop at the same step: each acts on the largest value of them all.
  auto agreed = [&](int64_t mine) { return processes > 1 ? max_over_processes(mine) : mine; };
  auto signalled = [&] { return options.stop_signal() ? static_cast<int>(agreed(options.stop_signal()->load())) : 0; };
  while (run.epoch <= options.epochs() && !run.stop && !result.interrupted) {
    const int64_t epoch = run.epoch;
    model.train();
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs()), batches,
                      !options.progress() || !writer);
    const double carried_seconds = run.epoch_seconds;  // of this epoch, before a resume
    auto seconds = [&] { return carried_seconds + progress.seconds(); };
    loader.set_epoch(epoch - 1);
    for (auto it = loader.begin_at(run.in_epoch); it != loader.end(); ++it) {
      StepInfo s = stepper.step(*it, run.steps);
      if (schedule) schedule->step();
      s.epoch = epoch;
      s.step_in_epoch = ++run.in_epoch;
      run.steps = s.step;
      run.step_log.push_back(s);
      run.total.add(s);
      run.window.add(s);
      if (run.in_epoch % curve_every == 0) {
        run.curves.train_loss.push_back({at(epoch, run.in_epoch), run.window.mean_loss()});
        run.curves.train_acc.push_back({at(epoch, run.in_epoch), run.window.accuracy()});
        if (schedule) run.curves.lr.push_back({at(epoch, run.in_epoch), s.lr});
        run.window = Tally();
      }
      char figures[128];
      std::snprintf(figures, sizeof figures, "loss %.4f  acc %s  %.0f img/s", run.total.mean_loss(),
                    format_percent(run.total.accuracy()).c_str(),
                    static_cast<double>(run.total.images) / std::max(progress.seconds(), 1e-9));
      progress.update(run.in_epoch, figures);
      if (hooks.on_step && agreed(!hooks.on_step(s))) run.stop = result.stopped_by_hook = true;
      if (options.max_steps() > 0 && run.steps >= options.max_steps()) run.stop = true;
      result.interrupted = signalled();
      const bool every = options.checkpoint_every() > 0 && run.steps % options.checkpoint_every() == 0;
      if (result.interrupted || (every && !run.stop && run.in_epoch < batches)) checkpoint(seconds());
      if (run.stop || result.interrupted) break;
    }
    if (result.interrupted) {
      progress.finish("interrupted at step " + std::to_string(run.steps));
      break;
    }
    EpochMetrics e;
    e.epoch = epoch;
    e.steps = run.steps;
    e.seconds = seconds();
    e.train_loss = run.total.mean_loss();
    e.train_acc = run.total.accuracy();
    e.img_per_s = static_cast<double>(run.total.images) / std::max(e.seconds, 1e-9);
    e.lr = run.step_log.empty() ? optimizer.lr(0) : run.step_log.back().lr;
    e.test_loss = e.test_acc = e.val_loss = e.val_acc = std::numeric_limits<double>::quiet_NaN();
    run.train_seconds += e.seconds;
    run.trained_images += run.total.images;
    // Evaluates `set` into (loss, acc), with a point on each curve. A loss that is not finite
    // means the last steps diverged (each step's own loss was finite): an error, not a result.
    if (stepper.parallel) stepper.parallel->before_forward();  // rank 0's running statistics
    auto measure = [&](const char* what, const std::shared_ptr<const data::Dataset>& set, double& loss, double& acc,
                       std::vector<CurvePoint>& loss_curve, std::vector<CurvePoint>& acc_curve) {
      EvalResult r = evaluate_shared(model, set, eval_batch);
      WICK_CHECK(std::isfinite(r.loss), "fit: training diverged by step ", run.steps, " (the ", what, " loss is ",
                 r.loss, "); try a smaller learning rate");
      loss = r.loss;
      acc = r.accuracy;
      loss_curve.push_back({at(epoch, run.in_epoch), r.loss});
      acc_curve.push_back({at(epoch, run.in_epoch), r.accuracy});
    };
    if (options.validation_set()) {
      measure("validation", options.validation_set(), e.val_loss, e.val_acc, run.curves.val_loss, run.curves.val_acc);
      if (!options.save_best().empty() && e.val_acc > run.best_val_acc) {
        if (writer) save_as_built(model, options.save_best());
        run.best_val_acc = e.val_acc;
        run.best_epoch = epoch;
      }
    }
    if (options.test_set())
      measure("test", options.test_set(), e.test_loss, e.test_acc, run.curves.test_loss, run.curves.test_acc);
    progress.finish(epoch_summary(e, options));
    run.epochs.push_back(e);
    if (writer && !options.metrics_csv().empty())
      write_metrics_csv(options.metrics_csv(), run.epochs, options.validation_set() != nullptr,
                        options.schedule().enabled());
    if (writer && !options.steps_csv().empty()) write_steps_csv(options.steps_csv(), run.step_log);
    if (hooks.on_epoch_end && agreed(!hooks.on_epoch_end(e))) run.stop = result.stopped_by_hook = true;
    ++run.epoch;
    run.in_epoch = 0;
    run.total = run.window = Tally();
    if (!options.checkpoint_dir().empty()) checkpoint(0);
    result.interrupted = signalled();
  }
  result.epochs = run.epochs;
  result.steps = run.steps;
  result.train_seconds = run.train_seconds;
  result.img_per_s = static_cast<double>(run.trained_images) / std::max(run.train_seconds, 1e-9);
  result.curves = std::move(run.curves);
  result.step_log = std::move(run.step_log);
  result.best_epoch = run.best_epoch;
  if (stepper.parallel) result.wait_seconds = stepper.parallel->wait_seconds();
  if (writer && !options.plot_svg().empty() && !result.interrupted) {
    const std::string steps = std::to_string(result.steps) + " steps";
    result.curves.title = options.plot_title().empty() ? steps : options.plot_title() + ", " + steps;
    write_svg_plot(options.plot_svg(), result.curves);
  }
  return result;
}

}  // namespace wick::train
