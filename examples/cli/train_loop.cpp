// One training loop for train and finetune.
#include "train_loop.h"

#include <cmath>
#include <cstdio>

#include "core/atomic_file.h"
#include "progress.h"

namespace wick::cli {
namespace {

void write_metrics(const std::string& path, const std::vector<EpochRow>& rows) {
  write_file_atomic(path, [&](std::ostream& out) {
    out << "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds\n";
    for (const auto& r : rows) {
      char line[256];
      std::snprintf(line, sizeof line, "%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.1f,%.2f\n", static_cast<long long>(r.epoch),
                    static_cast<long long>(r.steps), r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.img_per_s,
                    r.seconds);
      out << line;
    }
  });
}

}  // namespace

LoopResult train_loop(nn::Module& model, optim::Optimizer& optimizer, const Data& data, const LoopArgs& args) {
  WICK_CHECK(args.epochs > 0, "--epochs must be positive, got ", args.epochs);
  WICK_CHECK(args.batch_size > 0, "--batch-size must be positive, got ", args.batch_size);
  data::DataLoader loader(data.train,
                          data::DataLoaderOptions(args.batch_size).shuffle(args.shuffle).seed(args.seed));
  LoopResult result;
  Curves curves;
  const double batches = static_cast<double>(loader.size());
  bool stop = false;
  for (int64_t epoch = 1; epoch <= args.epochs && !stop; ++epoch) {
    model.train();
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(args.epochs), loader.size(), args.quiet);
    double loss_sum = 0, window_loss = 0;
    int64_t correct = 0, images = 0, step_in_epoch = 0, window_correct = 0, window_images = 0;
    for (auto& batch : loader) {
      Tensor logits = model.forward(batch.data);
      Tensor loss = cross_entropy(logits, batch.target);
      double l = loss.item<double>();
      WICK_CHECK(std::isfinite(l), "training diverged at step ", result.steps + 1,
                 " (the loss is not finite); try a smaller --lr");
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      ++result.steps;
      ++step_in_epoch;
      int64_t n = batch.size(), hit = 0;
      std::vector<int64_t> pred = argmax(logits, 1).to_vector<int64_t>(), truth = batch.target.to_vector<int64_t>();
      for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
      loss_sum += l * static_cast<double>(n);
      correct += hit;
      images += n;
      window_loss += l * static_cast<double>(n);
      window_correct += hit;
      window_images += n;
      // A point of the training curves about every 5% of an epoch.
      if (step_in_epoch % std::max<int64_t>(1, loader.size() / 20) == 0) {
        double at = static_cast<double>(epoch - 1) + static_cast<double>(step_in_epoch) / batches;
        curves.train_loss.push_back({at, window_loss / static_cast<double>(window_images)});
        curves.train_acc.push_back({at, static_cast<double>(window_correct) / static_cast<double>(window_images)});
        window_loss = 0;
        window_correct = window_images = 0;
      }
      char figures[128];
      std::snprintf(figures, sizeof figures, "loss %.4f  acc %s  %.0f img/s", loss_sum / static_cast<double>(images),
                    percent(static_cast<double>(correct) / static_cast<double>(images)).c_str(),
                    static_cast<double>(images) / std::max(progress.seconds(), 1e-9));
      progress.update(step_in_epoch, figures);
      if (args.max_steps > 0 && result.steps >= args.max_steps) {
        stop = true;
        break;
      }
    }
    EpochRow row;
    row.epoch = epoch;
    row.steps = result.steps;
    row.seconds = progress.seconds();
    row.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(images, 1));
    row.train_acc = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(images, 1));
    row.img_per_s = static_cast<double>(images) / std::max(row.seconds, 1e-9);
    result.train_seconds += row.seconds;
    EvalResult test = evaluate(model, *data.test, std::max<int64_t>(args.batch_size, 256));
    row.test_loss = test.loss;
    row.test_acc = test.accuracy;
    double at = static_cast<double>(epoch - 1) + static_cast<double>(step_in_epoch) / batches;
    curves.test_loss.push_back({at, test.loss});
    curves.test_acc.push_back({at, test.accuracy});
    char figures[160];
    std::snprintf(figures, sizeof figures, "train loss %.4f  train acc %s  test loss %.4f  test acc %s  %.0f img/s",
                  row.train_loss, percent(row.train_acc).c_str(), test.loss, percent(test.accuracy).c_str(),
                  row.img_per_s);
    progress.finish(figures);
    result.epochs.push_back(row);
    if (!args.metrics_csv.empty()) write_metrics(args.metrics_csv, result.epochs);
  }
  int64_t trained = 0;
  for (const auto& r : result.epochs) trained += static_cast<int64_t>(r.img_per_s * r.seconds + 0.5);
  result.img_per_s = static_cast<double>(trained) / std::max(result.train_seconds, 1e-9);
  if (!args.plot_svg.empty()) {
    curves.title = data.name + ", " + std::to_string(result.steps) + " steps";
    write_svg_plot(args.plot_svg, curves);
  }
  return result;
}

}  // namespace wick::cli
