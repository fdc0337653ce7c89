// bn-lab experiments on BatchNorm while training: small-batch (batch 2, 8 and 64: accuracy and the
// noise in the batch statistics).
#include "bn_lab_training.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "bn_lab_util.h"

namespace wick::cli {

std::string g3(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Data lab_data(const Lab& lab, int64_t train_images, int64_t test_images) {
  DataArgs args = lab.args().data;
  args.train_limit = train_images;
  args.test_limit = test_images;
  return load_data(args, true);
}

namespace {

constexpr int64_t kTrainImages = 4000;  // one pass over the first 4000 training images (shuffled)
constexpr int64_t kTestImages = 2048;   // a multiple of every batch size below
constexpr int64_t kBatchSizes[] = {2, 8, 64};
constexpr double kLrAt64 = 0.05;

// How the statistics of batches wander around those of the whole test set, for one BN layer's
// input. Per channel: μ and σ² of all the test images, then
//   wander   = sqrt(average (μ_B − μ)²) / σ     (how far a batch mean strays, in σ units)
//   var_seen = average σ²_B·n/(n−1) / σ²         (1 if the unbiased batch variance were unbiased)
// averaged over channels. With equal batches σ² = average σ²_B + average (μ_B − μ)² exactly, so
// what a small batch's variance misses is how far its mean wanders.
struct StatsNoise {
  double wander = 0, var_seen = 0;
  double n_eff = 0;  // σ² / average (μ_B − μ)²: as many independent values would give μ_B's spread
  int64_t n = 0;     // values per channel in one batch: N·H·W
};

// Per-channel batch means and biased variances of one BN layer's input, batch after batch.
struct LayerStats {
  std::vector<std::vector<float>> mus, vars;
  int64_t n = 0;
  void add(const Tensor& x) {
    n = x.numel() / x.size(1);
    mus.push_back(mean(x, {0, 2, 3}).to_vector<float>());
    vars.push_back(var(x, {0, 2, 3}, false).to_vector<float>());
  }
  StatsNoise noise() const {
    const size_t channels = mus[0].size();
    const auto batches = static_cast<double>(mus.size());
    StatsNoise out;
    out.n = n;
    double spread = 0;  // average over channels of (μ_B − μ)² / σ²
    for (size_t c = 0; c < channels; ++c) {
      double mu = 0, within = 0, between = 0;
      for (const auto& m : mus) mu += m[c] / batches;
      for (size_t b = 0; b < mus.size(); ++b) {
        within += vars[b][c] / batches;
        between += (mus[b][c] - mu) * (mus[b][c] - mu) / batches;
      }
      double sigma2 = within + between;
      out.wander += std::sqrt(between / sigma2) / static_cast<double>(channels);
      spread += between / sigma2 / static_cast<double>(channels);
      out.var_seen += within * static_cast<double>(n) / static_cast<double>(n - 1) / sigma2 /
                      static_cast<double>(channels);
    }
    out.n_eff = 1.0 / spread;
    return out;
  }
};

// The model in batch-statistics mode over the test set in batches of `batch`, the first batch
// starting at image `offset` (wrapping around): each image's predicted class, how many are right
// and, per BN layer, the batches' statistics.
struct BatchStatsPass {
  std::vector<int64_t> predicted;  // by image index
  int64_t correct = 0;
  std::vector<LayerStats> layers;
};

BatchStatsPass batch_stats_pass(nn::SequentialImpl& model, const data::Dataset& test, int64_t batch, int64_t offset) {
  NoGradGuard no_grad;
  const int64_t count = test.size();
  BatchStatsPass pass;
  pass.predicted.resize(static_cast<size_t>(count));
  for (int64_t start = 0; start < count; start += batch) {
    std::vector<int64_t> indices;
    for (int64_t k = 0; k < batch; ++k) indices.push_back((offset + start + k) % count);
    data::Batch b = test.get_batch(indices);
    Trace t = trace_forward(model, b.data);
    pass.layers.resize(t.bn_inputs.size());
    for (size_t l = 0; l < t.bn_inputs.size(); ++l) pass.layers[l].add(t.bn_inputs[l].second);
    pass.correct += train::count_correct(t.output, b.target);
    std::vector<int64_t> pred = argmax(t.output, 1).to_vector<int64_t>();
    for (int64_t k = 0; k < batch; ++k) pass.predicted[indices[k]] = pred[k];
  }
  return pass;
}

struct SmallBatchRow {
  int64_t batch = 0, steps = 0, changed = 0;
  double lr = 0, eval_acc = 0, batch_stats_acc = 0, seconds = 0;
  std::vector<StatsNoise> noise;  // per BN layer
};

SmallBatchRow train_and_measure(const Lab& lab, const Data& data, int64_t batch) {
  auto start = std::chrono::steady_clock::now();
  SmallBatchRow row;
  row.batch = batch;
  row.lr = kLrAt64 * static_cast<double>(batch) / 64.0;
  nn::Sequential model = seeded_small_cnn(lab.args().seed);
  optim::SGD opt(model->parameters(), optim::SGDOptions(row.lr).momentum(0.9));
  row.steps = (data.train->size() + batch - 1) / batch;
  std::printf("batch %2lld: %4lld steps at lr %.5f ... ", static_cast<long long>(batch),
              static_cast<long long>(row.steps), row.lr);
  std::fflush(stdout);
  train::fit(*model, opt, *data.train,
             train::FitOptions().batch_size(batch).seed(lab.args().seed).progress(false));
  row.eval_acc = train::evaluate(*model, *data.test, 256).accuracy;
  for (auto& [name, bn] : nn::batchnorm_layers(*model)) bn->set_mode(nn::BatchNormMode::BatchStats);
  BatchStatsPass grouped = batch_stats_pass(*model, *data.test, batch, 0);
  BatchStatsPass regrouped = batch_stats_pass(*model, *data.test, batch, batch / 2);
  for (size_t i = 0; i < grouped.predicted.size(); ++i) row.changed += grouped.predicted[i] != regrouped.predicted[i];
  row.batch_stats_acc = static_cast<double>(grouped.correct) / static_cast<double>(data.test->size());
  for (const LayerStats& l : grouped.layers) row.noise.push_back(l.noise());
  row.seconds = seconds_since(start);
  std::printf("done in %.1f s\n", row.seconds);
  return row;
}

}  // namespace

void lab_small_batch(Lab& lab) {
  lab.explain(
      "In training mode BN normalizes each channel with the mean μ_B and variance σ²_B of the batch in "
      "front of it, and eval mode uses running averages of them. With a tiny batch those statistics "
      "come from a couple of images: μ_B wanders from batch to batch, σ²_B misses the differences "
      "between images, and what the network computes for one image depends on the images beside it. "
      "The unbiased correction n/(n−1) in running_var does not fix this: n = N·H·W counts every pixel "
      "(1568 values for 2 images of 28x28), so it changes σ² by 0.06%, while the pixels of one image "
      "are far from independent.");
  Data data = lab_data(lab, kTrainImages, kTestImages);
  lab.explain("Setup: small-cnn from the same initialization (--seed " + std::to_string(lab.args().seed) +
              "), one pass over the first " + std::to_string(kTrainImages) +
              " training images shuffled, SGD momentum 0.9 with lr = 0.05·B/64 (the linear scaling rule: "
              "each image moves the weights by the same amount whatever the batch size B). Tested on the "
              "first " + std::to_string(kTestImages) + " test images. Denormal floats are flushed to zero: at "
              "batch 2 the gradients that come back through BN include values near 1e-40, which would make "
              "that run about 3.5 times slower with the same results.");
  FlushDenormals flush;
  std::vector<SmallBatchRow> rows;
  for (int64_t batch : kBatchSizes) rows.push_back(train_and_measure(lab, data, batch));

  lab.say("\n batch       lr  steps   eval-mode   batch-stats   answers changed when");
  lab.say("                         accuracy    accuracy      the batches are regrouped");
  for (const SmallBatchRow& r : rows) {
    lab.say("%6lld  %7.5f  %5lld   %9s   %11s   %5lld (%s)", static_cast<long long>(r.batch), r.lr,
            static_cast<long long>(r.steps), format_percent(r.eval_acc).c_str(),
            format_percent(r.batch_stats_acc).c_str(),
            static_cast<long long>(r.changed),
            format_percent(static_cast<double>(r.changed) / static_cast<double>(kTestImages)).c_str());
    std::string key = "small_batch_b" + std::to_string(r.batch);
    lab.record(key + "_lr", r.lr);
    lab.record(key + "_eval_acc", r.eval_acc);
    lab.record(key + "_batch_stats_acc", r.batch_stats_acc);
    lab.record(key + "_changed", r.changed);
    lab.record(key + "_seconds", r.seconds);
  }
  lab.say("%s", "");
  lab.explain(
      "eval-mode accuracy normalizes with the running statistics; batch-stats accuracy normalizes the "
      "test images in batches of the training size, as in training. Answers changed: images whose "
      "predicted class changes when the batches are shifted by half a batch (same images, new "
      "neighbours).");
  lab.say("The BN layers' inputs over the test images, in batches of the training size:");
  lab.say(" batch  layer  n = N·H·W   n/(n−1)   μ_B wanders   σ²_B·n/(n−1) / σ²   worth this many");
  lab.say("                                     (σ units)     (true variance: 1)   independent values");
  for (const SmallBatchRow& r : rows) {
    for (size_t l = 0; l < r.noise.size(); ++l) {
      const StatsNoise& s = r.noise[l];
      lab.say("%6lld  BN%zu   %9lld  %8.6f   %11.3f   %18.3f   %18.0f", static_cast<long long>(r.batch), l + 1,
              static_cast<long long>(s.n), static_cast<double>(s.n) / static_cast<double>(s.n - 1), s.wander,
              s.var_seen, s.n_eff);
      std::string key = "small_batch_b" + std::to_string(r.batch) + "_bn" + std::to_string(l + 1);
      lab.record(key + "_wander", s.wander);
      lab.record(key + "_var_seen", s.var_seen);
      lab.record(key + "_n_eff", s.n_eff);
    }
  }
  lab.say("%s", "");
  const SmallBatchRow &tiny = rows.front(), &large = rows.back();
  const StatsNoise &tiny1 = tiny.noise[0], &large1 = large.noise[0];
  lab.explain(
      "μ_B wanders: how far a batch's mean strays from the mean of all test images. Next: the share of "
      "the true variance a batch's variance sees, even after n/(n−1); what it misses is exactly how far "
      "μ_B wanders. Last: the pixels of a batch are not independent. At batch 2 the first layer's " +
      std::to_string(tiny1.n) + " values per channel pin μ down no better than " +
      std::to_string(static_cast<int64_t>(std::lround(tiny1.n_eff))) +
      " independent values would, so n/(n−1) corrects far too little.");
  lab.explain(
      std::string("Accuracy: in this short run batch 2 ends ") +
      (tiny.eval_acc < large.eval_acc ? "below" : "above") + " batch 64 (" + format_percent(tiny.eval_acc) + " vs " +
      format_percent(large.eval_acc) + "; it made " + std::to_string(large.batch / tiny.batch) +
      " times as many steps). The noise costs most in deep networks, "
      "whose last BN layers see few values per channel (a 7x7 map at batch 2: n = 98); Group "
      "Normalization (Wu & He, 2018), which does not depend on the batch, was made for that case.");

  train::Chart acc{"test accuracy after one pass", "batch size", "accuracy",
            {{"eval mode (running statistics)", {}}, {"batch statistics", {}}}, true};
  train::Chart noise{"first BN layer's batch statistics", "batch size", "",
              {{"μ_B wander (σ units)", {}}, {"1 − σ²_B·n/(n−1) / σ²", {}}, {"answers changed by regrouping", {}}},
              true, true};
  for (const SmallBatchRow& r : rows) {
    auto b = static_cast<double>(r.batch);
    acc.series[0].points.emplace_back(b, r.eval_acc);
    acc.series[1].points.emplace_back(b, r.batch_stats_acc);
    noise.series[0].points.emplace_back(b, r.noise[0].wander);
    noise.series[1].points.emplace_back(b, 1.0 - r.noise[0].var_seen);
    noise.series[2].points.emplace_back(b, static_cast<double>(r.changed) / static_cast<double>(kTestImages));
  }
  lab.chart({acc, noise});
  bool holds = true;
  for (size_t i = 1; i < rows.size(); ++i) holds = holds && rows[i].noise[0].wander < rows[i - 1].noise[0].wander;
  holds = holds && tiny1.var_seen < large1.var_seen && tiny.changed > large.changed;
  lab.verdict(holds, "batch-2 means stray %.3fσ (batch 64: %.3fσ); regrouping changes %s of answers (%s)",
              tiny1.wander, large1.wander,
              format_percent(static_cast<double>(tiny.changed) / static_cast<double>(kTestImages)).c_str(),
              format_percent(static_cast<double>(large.changed) / static_cast<double>(kTestImages)).c_str());
}

}  // namespace wick::cli
