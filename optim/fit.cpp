// fit: the epoch loop, the running figures of one epoch, the evaluations and what is written after
// each epoch.
#include "optim/fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/ops/loss.h"
#include "data/dataloader.h"
#include "layers/fuse.h"
#include "layers/serialize.h"
#include "optim/clip.h"
#include "optim/evaluate.h"
#include "optim/progress.h"

namespace wick::train {
namespace {

// Loss and correct predictions summed over images.
struct Tally {
  double loss = 0;
  int64_t correct = 0, images = 0;
  void add(const StepInfo& s) {
    loss += s.loss * static_cast<double>(s.images);
    correct += s.correct;
    images += s.images;
  }
  double mean_loss() const { return loss / static_cast<double>(std::max<int64_t>(images, 1)); }
  double accuracy() const { return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(images, 1)); }
};

void check_options(const FitOptions& o) {
  WICK_CHECK(o.epochs() > 0, "fit: epochs must be positive, got ", o.epochs());
  WICK_CHECK(o.batch_size() > 0, "fit: batch_size must be positive, got ", o.batch_size());
  WICK_CHECK(o.max_steps() >= 0, "fit: max_steps must be >= 0 (0: no limit), got ", o.max_steps());
  WICK_CHECK(o.grad_clip() >= 0, "fit: grad_clip must be >= 0 (0: off), got ", o.grad_clip());
  WICK_CHECK(o.label_smoothing() >= 0 && o.label_smoothing() < 1, "fit: label_smoothing must be in [0, 1), got ",
             o.label_smoothing());
  WICK_CHECK(o.save_best().empty() || o.validation_set(), "fit: save_best needs a validation_set");
}

// What a step needs besides the batch.
struct Stepper {
  nn::Module& model;
  optim::Optimizer& optimizer;
  const FitOptions& options;
  std::vector<Tensor> params;  // every group's, for clipping

  // One step on `batch`; the loss is checked before anything is updated.
  StepInfo step(const data::Batch& batch, int64_t done) {
    Tensor logits = model.forward(batch.data);
    Tensor loss = cross_entropy(logits, batch.target, Reduction::Mean, options.label_smoothing());
    StepInfo s;
    s.step = done + 1;
    s.loss = loss.item<double>();
    s.lr = optimizer.lr(0);
    WICK_CHECK(std::isfinite(s.loss), "fit: training diverged at step ", s.step,
               " (the loss is not finite); try a smaller learning rate");
    optimizer.zero_grad();
    loss.backward();
    if (options.grad_clip() > 0) optim::clip_grad_norm_(params, options.grad_clip());
    optimizer.step();
    s.images = batch.size();
    s.correct = count_correct(logits, batch.target);
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

// The model as built, written to `path`: fused BatchNorm+ReLU pairs are saved unfused.
void save_unfused(const nn::Module& model, const std::string& path) {
  std::shared_ptr<nn::Module> copy = model.clone();
  nn::unfuse_batchnorm_relu(*copy);
  nn::save(*copy, path);
}

}  // namespace

FitResult fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& train, const FitOptions& options,
              const FitHooks& hooks) {
  check_options(options);
  // The loader borrows the dataset (a non-owning shared_ptr): it lives only inside this call.
  std::shared_ptr<const data::Dataset> train_set(std::shared_ptr<const data::Dataset>(), &train);
  if (options.augmentation().enabled()) train_set = data::with_augmentation(train_set, options.augmentation());
  data::DataLoaderOptions loader_options(options.batch_size());
  data::DataLoader loader(train_set, loader_options.shuffle(options.shuffle()).seed(options.seed()));
  const int64_t batches = loader.size();
  const int64_t curve_every = std::max<int64_t>(1, batches / 20);  // a training point about every 5% of an epoch
  auto at = [&](int64_t epoch, int64_t in_epoch) {  // fractional epochs, the curves' x
    return static_cast<double>(epoch - 1) + static_cast<double>(in_epoch) / static_cast<double>(batches);
  };
  std::unique_ptr<optim::Schedule> schedule;
  if (options.schedule().enabled())
    schedule = std::make_unique<optim::Schedule>(optimizer, options.schedule(), options.epochs(), batches);
  Stepper stepper{model, optimizer, options, {}};
  for (auto& g : optimizer.param_groups())
    stepper.params.insert(stepper.params.end(), g.params().begin(), g.params().end());
  const int64_t eval_batch = std::max<int64_t>(options.batch_size(), 256);
  FitResult result;
  int64_t trained_images = 0;
  double best_val_acc = -1;
  bool stop = false;
  for (int64_t epoch = 1; epoch <= options.epochs() && !stop; ++epoch) {
    model.train();
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs()), batches,
                      !options.progress());
    Tally total, window;
    int64_t in_epoch = 0;
    for (auto& batch : loader) {
      StepInfo s = stepper.step(batch, result.steps);
      if (schedule) schedule->step();
      s.epoch = epoch;
      s.step_in_epoch = ++in_epoch;
      result.steps = s.step;
      result.step_log.push_back(s);
      total.add(s);
      window.add(s);
      if (in_epoch % curve_every == 0) {
        result.curves.train_loss.push_back({at(epoch, in_epoch), window.mean_loss()});
        result.curves.train_acc.push_back({at(epoch, in_epoch), window.accuracy()});
        if (schedule) result.curves.lr.push_back({at(epoch, in_epoch), s.lr});
        window = Tally();
      }
      char figures[128];
      std::snprintf(figures, sizeof figures, "loss %.4f  acc %s  %.0f img/s", total.mean_loss(),
                    format_percent(total.accuracy()).c_str(),
                    static_cast<double>(total.images) / std::max(progress.seconds(), 1e-9));
      progress.update(in_epoch, figures);
      if (hooks.on_step && !hooks.on_step(s)) stop = result.stopped_by_hook = true;
      if (options.max_steps() > 0 && result.steps >= options.max_steps()) stop = true;
      if (stop) break;
    }
    EpochMetrics e;
    e.epoch = epoch;
    e.steps = result.steps;
    e.seconds = progress.seconds();
    e.train_loss = total.mean_loss();
    e.train_acc = total.accuracy();
    e.img_per_s = static_cast<double>(total.images) / std::max(e.seconds, 1e-9);
    e.lr = result.step_log.empty() ? optimizer.lr(0) : result.step_log.back().lr;
    e.test_loss = e.test_acc = e.val_loss = e.val_acc = std::numeric_limits<double>::quiet_NaN();
    result.train_seconds += e.seconds;
    trained_images += total.images;
    // Evaluates `set` into (loss, acc), with a point on each curve. A loss that is not finite
    // means the last steps diverged (each step's own loss was finite): an error, not a result.
    auto measure = [&](const char* what, const data::Dataset& set, double& loss, double& acc,
                       std::vector<CurvePoint>& loss_curve, std::vector<CurvePoint>& acc_curve) {
      EvalResult r = evaluate(model, set, eval_batch);
      WICK_CHECK(std::isfinite(r.loss), "fit: training diverged by step ", result.steps, " (the ", what, " loss is ",
                 r.loss, "); try a smaller learning rate");
      loss = r.loss;
      acc = r.accuracy;
      loss_curve.push_back({at(epoch, in_epoch), r.loss});
      acc_curve.push_back({at(epoch, in_epoch), r.accuracy});
    };
    if (options.validation_set()) {
      measure("validation", *options.validation_set(), e.val_loss, e.val_acc, result.curves.val_loss, result.curves.val_acc);
      if (!options.save_best().empty() && e.val_acc > best_val_acc) {
        save_unfused(model, options.save_best());
        best_val_acc = e.val_acc;
        result.best_epoch = epoch;
      }
    }
    if (options.test_set())
      measure("test", *options.test_set(), e.test_loss, e.test_acc, result.curves.test_loss, result.curves.test_acc);
    progress.finish(epoch_summary(e, options));
    result.epochs.push_back(e);
    if (!options.metrics_csv().empty())
      write_metrics_csv(options.metrics_csv(), result.epochs, options.validation_set() != nullptr,
                        options.schedule().enabled());
    if (!options.steps_csv().empty()) write_steps_csv(options.steps_csv(), result.step_log);
    if (hooks.on_epoch_end && !hooks.on_epoch_end(e)) stop = result.stopped_by_hook = true;
  }
  result.img_per_s = static_cast<double>(trained_images) / std::max(result.train_seconds, 1e-9);
  if (!options.plot_svg().empty()) {
    const std::string steps = std::to_string(result.steps) + " steps";
    result.curves.title = options.plot_title().empty() ? steps : options.plot_title() + ", " + steps;
    write_svg_plot(options.plot_svg(), result.curves);
  }
  return result;
}

}  // namespace wick::train
