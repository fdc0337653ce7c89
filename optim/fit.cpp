// fit: the epoch loop, the running figures of one epoch, and what is written after each epoch.
#include "optim/fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/ops/loss.h"
#include "data/dataloader.h"
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
}

// One step on `batch`; the loss is checked before anything is updated.
StepInfo step(nn::Module& model, optim::Optimizer& optimizer, const data::Batch& batch, int64_t done) {
  Tensor logits = model.forward(batch.data);
  Tensor loss = cross_entropy(logits, batch.target);
  StepInfo s;
  s.step = done + 1;
  s.loss = loss.item<double>();
  WICK_CHECK(std::isfinite(s.loss), "fit: training diverged at step ", s.step,
             " (the loss is not finite); try a smaller learning rate");
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  s.images = batch.size();
  s.correct = count_correct(logits, batch.target);
  return s;
}

std::string epoch_summary(const EpochMetrics& e, bool tested) {
  char text[192];
  if (tested)
    std::snprintf(text, sizeof text, "train loss %.4f  train acc %s  test loss %.4f  test acc %s  %.0f img/s",
                  e.train_loss, format_percent(e.train_acc).c_str(), e.test_loss, format_percent(e.test_acc).c_str(),
                  e.img_per_s);
  else
    std::snprintf(text, sizeof text, "train loss %.4f  train acc %s  %.0f img/s", e.train_loss,
                  format_percent(e.train_acc).c_str(), e.img_per_s);
  return text;
}

}  // namespace

FitResult fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& train, const FitOptions& options,
              const FitHooks& hooks) {
  check_options(options);
  // The loader borrows the dataset (a non-owning shared_ptr): it lives only inside this call.
  data::DataLoaderOptions loader_options(options.batch_size());
  data::DataLoader loader(std::shared_ptr<const data::Dataset>(std::shared_ptr<const data::Dataset>(), &train),
                          loader_options.shuffle(options.shuffle()).seed(options.seed()));
  const int64_t batches = loader.size();
  const int64_t curve_every = std::max<int64_t>(1, batches / 20);  // a training point about every 5% of an epoch
  auto at = [&](int64_t epoch, int64_t in_epoch) {  // fractional epochs, the curves' x
    return static_cast<double>(epoch - 1) + static_cast<double>(in_epoch) / static_cast<double>(batches);
  };
  FitResult result;
  int64_t trained_images = 0;
  bool stop = false;
  for (int64_t epoch = 1; epoch <= options.epochs() && !stop; ++epoch) {
    model.train();
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(options.epochs()), batches,
                      !options.progress());
    Tally total, window;
    int64_t in_epoch = 0;
    for (auto& batch : loader) {
      StepInfo s = step(model, optimizer, batch, result.steps);
      s.epoch = epoch;
      s.step_in_epoch = ++in_epoch;
      result.steps = s.step;
      total.add(s);
      window.add(s);
      if (in_epoch % curve_every == 0) {
        result.curves.train_loss.push_back({at(epoch, in_epoch), window.mean_loss()});
        result.curves.train_acc.push_back({at(epoch, in_epoch), window.accuracy()});
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
    e.test_loss = e.test_acc = std::numeric_limits<double>::quiet_NaN();
    result.train_seconds += e.seconds;
    trained_images += total.images;
    if (options.test_set()) {
      EvalResult test = evaluate(model, *options.test_set(), std::max<int64_t>(options.batch_size(), 256));
      e.test_loss = test.loss;
      e.test_acc = test.accuracy;
      result.curves.test_loss.push_back({at(epoch, in_epoch), test.loss});
      result.curves.test_acc.push_back({at(epoch, in_epoch), test.accuracy});
    }
    progress.finish(epoch_summary(e, options.test_set() != nullptr));
    result.epochs.push_back(e);
    if (!options.metrics_csv().empty()) write_metrics_csv(options.metrics_csv(), result.epochs);
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
