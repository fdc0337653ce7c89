// bn-lab experiments on a trained small-cnn: fine-tune (a faded domain: stale statistics, BN trained,
// BN frozen, recalibration alone = AdaBN) and fold (BN folded into the conv before it).
// tools/golden/bn_lab_training.py computes the same numbers in PyTorch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string_view>

#include "bn_lab_training.h"
#include "bn_lab_util.h"

namespace wick::cli {
namespace {

constexpr int64_t kPretrainImages = 10000;  // without --weights: one pass over them, batch 64
constexpr double kPretrainLr = 0.02;
constexpr int64_t kLabelled = 256, kFineTuneBatch = 32, kFineTuneEpochs = 3;
constexpr double kFineTuneLr = 0.01;
constexpr int64_t kUnlabelled = 2000, kRecalibrationBatch = 100;
constexpr int64_t kFewImages[] = {1, 10, 100};  // recalibration on fewer images (batches of up to 100)
constexpr int64_t kFoldImages = 1000, kTimedRuns = 9;

// The trained small-cnn both experiments start from: --weights FILE, or pretrained here (one pass
// over the first kPretrainImages training images from the --seed initialization).
std::shared_ptr<nn::Module> trained_model(Lab& lab, const Data& data) {
  std::string weights = lab.args().weights;
  if (!weights.empty()) {
    lab.say("model: weights from %s", weights.c_str());
    return make_or_load_model(weights, "small-cnn", "", data);
  }
  auto start = std::chrono::steady_clock::now();
  std::printf("pretraining small-cnn: one pass over %lld training images (--seed %llu, lr %g) ... ",
              static_cast<long long>(kPretrainImages), static_cast<unsigned long long>(lab.args().seed), kPretrainLr);
  std::fflush(stdout);
  nn::Sequential model = seeded_small_cnn(lab.args().seed);
  optim::SGD opt(model->parameters(), optim::SGDOptions(kPretrainLr).momentum(0.9));
  train::fit(*model, opt, data::Subset::head(data.train_images, kPretrainImages),
             train::FitOptions().batch_size(64).seed(lab.args().seed).progress(false));
  std::printf("done in %.1f s\n", seconds_since(start));
  return model.ptr();
}


// The first `count` images of `images`, faded: p' = 64 + p/4 (integer division), a quarter of the
// contrast on a grey background. Same labels, same normalization.
std::shared_ptr<data::ImageDataset> faded(const data::ImageDataset& images, int64_t count) {
  const int64_t plane = images.channels() * images.height() * images.width();
  std::vector<uint8_t> pixels(images.pixels(), images.pixels() + count * plane);
  for (uint8_t& p : pixels) p = static_cast<uint8_t>(64 + p / 4);
  std::vector<int64_t> labels(images.labels().begin(), images.labels().begin() + count);
  return std::make_shared<data::ImageDataset>(std::move(pixels), std::move(labels), images.channels(),
                                              images.height(), images.width(), images.num_classes(),
                                              images.normalization(), images.class_names(), "faded " + images.name());
}

// kFineTuneEpochs passes over `labelled` in file order, SGD momentum 0.9 on the trainable parameters.
void fine_tune(nn::Module& model, const std::shared_ptr<data::Dataset>& labelled) {
  std::vector<Tensor> trainable;
  for (const Tensor& p : model.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  optim::SGD opt(trainable, optim::SGDOptions(kFineTuneLr).momentum(0.9));
  train::fit(model, opt, *labelled,
             train::FitOptions().epochs(kFineTuneEpochs).batch_size(kFineTuneBatch).shuffle(false).progress(false));
}

struct Row {
  const char* label;
  const char* key;
  int64_t labels = 0, steps = 0;
  double original = 0, faded = 0;
};

}  // namespace

void lab_fine_tune(Lab& lab) {
  lab.explain(
      "A network meets images unlike its training set: the same Fashion-MNIST test images, faded to a "
      "quarter of their contrast on a grey background (pixel p becomes 64 + p/4). Every BN layer still "
      "normalizes with the running statistics of the old images, so the features arrive shifted and "
      "squeezed. Four ways to respond, each from the same trained model:");
  lab.say("  (a) nothing: stale statistics");
  lab.say("  (b) fine-tune on %lld labelled faded images, BN in training mode (it uses batch statistics",
          static_cast<long long>(kLabelled));
  lab.say("      and its running statistics follow the new images, momentum 0.1)");
  lab.say("  (c) the same fine-tuning with BN frozen: γ and β fixed, running statistics used and never");
  lab.say("      updated (that part is what eval mode does; seed 002 claims eval mode updates them)");
  lab.say("  (d) recalibration alone (AdaBN): re-measure every BN layer's running mean and variance on");
  lab.say("      %lld unlabelled faded images; no labels, no gradient step\n", static_cast<long long>(kUnlabelled));
  Data data = load_data(lab.args().data, true);
  auto test_images = std::dynamic_pointer_cast<data::ImageDataset>(data.test);
  WICK_CHECK(test_images != nullptr, "bn-lab fine-tune: the test split is not an image dataset");
  std::shared_ptr<data::Dataset> faded_test = faded(*test_images, test_images->size());
  std::shared_ptr<data::Dataset> faded_train = faded(*data.train_images, kUnlabelled);
  std::shared_ptr<data::Dataset> labelled = std::make_shared<data::Subset>(data::Subset::head(faded_train, kLabelled));
  std::shared_ptr<nn::Module> model = trained_model(lab, data);
  const int64_t steps = kFineTuneEpochs * ((kLabelled + kFineTuneBatch - 1) / kFineTuneBatch);

  std::vector<Row> rows = {{"(a) stale statistics", "stale", 0, 0},
                           {"(b) fine-tuned, BN in training mode", "bn_train", kLabelled, steps},
                           {"(c) fine-tuned, BN frozen", "bn_frozen", kLabelled, steps},
                           {"(d) recalibrated only (AdaBN)", "adabn", 0, 0}};
  std::shared_ptr<nn::Module> adapted;
  for (Row& row : rows) {
    auto start = std::chrono::steady_clock::now();
    std::printf("%-36s ... ", row.label);
    std::fflush(stdout);
    std::shared_ptr<nn::Module> m = model->clone();
    if (std::string_view(row.key) == "bn_frozen") nn::freeze_batchnorm(*m);
    if (row.steps > 0) fine_tune(*m, labelled);
    if (std::string_view(row.key) == "adabn") {
      data::DataLoader unlabelled(faded_train, data::DataLoaderOptions(kRecalibrationBatch));
      nn::recalibrate_batchnorm(*m, unlabelled);
      adapted = m;
    }
    row.original = train::evaluate(*m, *data.test, 500).accuracy;
    row.faded = train::evaluate(*m, *faded_test, 500).accuracy;
    std::printf("done in %.1f s\n", seconds_since(start));
  }

  lab.say("\n%-36s %8s   %8s   %13s   %10s", "", "labelled", "gradient", "original test", "faded test");
  lab.say("%-36s %8s   %8s   %13s   %10s", "", "images", "steps", "accuracy", "accuracy");
  for (const Row& r : rows) {
    lab.say("%-36s %8lld   %8lld   %13s   %10s", r.label, static_cast<long long>(r.labels),
            static_cast<long long>(r.steps), format_percent(r.original).c_str(), format_percent(r.faded).c_str());
    lab.record("fine_tune_" + std::string(r.key) + "_original", r.original);
    lab.record("fine_tune_" + std::string(r.key) + "_faded", r.faded);
  }
  const Row &stale = rows[0], &adabn = rows[3];
  double lost = stale.original - stale.faded, recovered = (adabn.faded - stale.faded) / lost;
  lab.record("fine_tune_recovered", recovered);
  lab.say("\nfading took %.2f points; recalibration alone won back %.2f of them: %s", 100 * lost,
          100 * (adabn.faded - stale.faded), format_percent(recovered).c_str());
  std::printf("\nrecalibrating on fewer faded images ... ");
  std::fflush(stdout);
  std::vector<std::pair<double, double>> few_images;  // (images, faded test accuracy)
  for (int64_t images : kFewImages) {
    std::shared_ptr<nn::Module> m = model->clone();
    auto first = std::make_shared<data::Subset>(data::Subset::head(faded_train, images));
    data::DataLoader unlabelled(first, data::DataLoaderOptions(std::min(images, kRecalibrationBatch)));
    nn::recalibrate_batchnorm(*m, unlabelled);
    few_images.emplace_back(static_cast<double>(images), train::evaluate(*m, *faded_test, 500).accuracy);
    lab.record("fine_tune_adabn_" + std::to_string(images) + "_images_faded", few_images.back().second);
  }
  std::printf("done\n");
  std::string counts, accs;
  for (auto [images, acc] : few_images) {
    char cell[32];
    std::snprintf(cell, sizeof cell, "%10lld", static_cast<long long>(images));
    counts += cell;
    std::snprintf(cell, sizeof cell, "%10s", format_percent(acc).c_str());
    accs += cell;
  }
  lab.say("%-20s%s%10lld", "unlabelled images", counts.c_str(), static_cast<long long>(kUnlabelled));
  lab.say("%-20s%s%10s", "faded test accuracy", accs.c_str(), format_percent(adabn.faded).c_str());
  lab.say("\nThe running statistics, averaged over channels, before and after recalibration on %lld",
          static_cast<long long>(kUnlabelled));
  lab.say("faded images (%lld batches of %lld, a plain average: momentum none):",
          static_cast<long long>(kUnlabelled / kRecalibrationBatch), static_cast<long long>(kRecalibrationBatch));
  lab.say("%-8s  %-22s  %-22s  %9s  %7s", "BN layer", "running_mean", "running_var", "var ratio", "batches");
  lab.say("%-8s  %8s  %12s  %8s  %12s  %9s  %7s", "", "stale", "recalibrated", "stale", "recalibrated", "new / old",
          "tracked");
  auto stale_bns = nn::batchnorm_layers(*model);
  auto new_bns = nn::batchnorm_layers(*adapted);
  for (size_t l = 0; l < new_bns.size(); ++l) {
    const auto& [name, bn] = new_bns[l];
    const auto& old = stale_bns[l].second;
    double old_var = mean(old->running_var).item<double>(), new_var = mean(bn->running_var).item<double>();
    int64_t tracked = bn->num_batches_tracked.item<int64_t>();
    lab.say("%-8s  %8.4f  %12.4f  %8.4f  %12.4f  %9.4f  %7lld", name.c_str(),
            mean(old->running_mean).item<double>(), mean(bn->running_mean).item<double>(), old_var, new_var,
            new_var / old_var, static_cast<long long>(tracked));
    std::string key = "fine_tune_adabn_layer" + name;
    lab.record(key + "_running_mean", bn->running_mean.to_vector<float>());
    lab.record(key + "_running_var", bn->running_var.to_vector<float>());
    lab.record(key + "_num_batches_tracked", tracked);
  }
  lab.say("%s", "");
  lab.explain(
      "Why (d) works: the first conv turns the fading into a per-channel scale and shift of its "
      "output, z' ≈ z/4 + b_c. Recalibrated, the first BN layer measures μ' ≈ μ/4 + b_c and "
      "σ'² ≈ σ²/16 (the var ratio above), and (z' − μ')/σ' ≈ (z − μ)/σ: the fading is undone before "
      "anything else sees it. Every image is faded the same way, so even one image shows how each "
      "channel moved. The statistics belong to a domain: on the original images the recalibrated "
      "model scores " + format_percent(adabn.original) + " instead of " + format_percent(stale.original) +
      ", so keep one set of statistics per domain.");

  train::Chart curve{"faded test accuracy after recalibration", "unlabelled faded images used", "accuracy", {}, true};
  train::Series recal{"recalibrated (AdaBN)", few_images};
  recal.points.emplace_back(static_cast<double>(kUnlabelled), adabn.faded);
  const double left = few_images.front().first, right = static_cast<double>(kUnlabelled);
  curve.series = {recal, {"stale statistics", {{left, stale.faded}, {right, stale.faded}}},
                  {"original images, stale statistics", {{left, stale.original}, {right, stale.original}}}};
  lab.chart({curve});
  lab.verdict(recovered >= 0.5 && lost >= 0.2,
              "recalibration alone, without one label, wins back %s of the accuracy the fading took",
              format_percent(recovered).c_str());
}

namespace {

// The time of each call of `a` and of `b` times `scale` (e.g. 1e3: milliseconds), kTimedRuns runs
// each, alternating a, b, a, b, ... so that a busy machine slows both alike.
struct Timings {
  std::vector<double> a, b;
};

Timings alternating_runs(const std::function<void()>& a, const std::function<void()>& b, double scale) {
  Timings t;
  a();
  b();  // warm-up
  for (int64_t run = 0; run < kTimedRuns; ++run) {
    for (auto [fn, times] : {std::pair{&a, &t.a}, std::pair{&b, &t.b}}) {
      auto start = std::chrono::steady_clock::now();
      (*fn)();
      times->push_back(scale * seconds_since(start));
    }
  }
  return t;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<int64_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

std::string layer_names(const nn::Module& model) {
  std::string out;
  for (const auto& [name, child] : model.named_children()) {
    if (!out.empty()) out += ' ';
    out += child->type_name();
  }
  return out;
}

int64_t buffer_count(const nn::Module& model) {
  int64_t n = 0;
  for (const Tensor& b : model.buffers()) n += b.numel();
  return n;
}

}  // namespace

void lab_fold(Lab& lab) {
  lab.explain(
      "In eval mode a BN layer is a fixed per-channel scale and shift: y = s·x + (β − running_mean·s) "
      "with s = γ/sqrt(running_var + eps). A conv followed by it is therefore one conv with "
      "W' = W·s (per output channel) and b' = (b − running_mean)·s + β. Folding removes the BN layers "
      "for deployment (seed 001 is right that they then disappear at inference). It is only possible "
      "in eval mode: in training mode μ and σ² change with every batch.");
  Data data = load_data(lab.args().data, lab.args().weights.empty());
  std::shared_ptr<nn::Module> model = trained_model(lab, data);
  model->eval();
  int folded_layers = 0;
  std::shared_ptr<nn::Module> folded = nn::fold_batchnorm(*model, &folded_layers);
  lab.say("layers before folding:\n  %s", layer_names(*model).c_str());
  lab.say("after:\n  %s", layer_names(*folded).c_str());

  NoGradGuard no_grad;
  Tensor x = file_order_batch(*data.test, 0, kFoldImages).data;
  Tensor y = model->forward(x), y_folded = folded->forward(x);
  double diff = max_abs_diff(y, y_folded), scale = max(abs(y)).item<double>(), relative = diff / scale;
  const int64_t same = train::count_correct(y, argmax(y_folded, 1));  // the same class both ways
  lab.say("\nlogits of the first %lld test images: max |unfolded − folded| = %.3g, largest |logit| %.3g,",
          static_cast<long long>(kFoldImages), diff, scale);
  lab.say("relative difference %.3g (must be <= 1e-5); the same class for %lld of %lld images", relative,
          static_cast<long long>(same), static_cast<long long>(kFoldImages));
  lab.record("fold_layers", folded_layers);
  lab.record("fold_max_abs_diff", diff);
  lab.record("fold_relative_diff", relative);
  lab.record("fold_same_class", same);

  const int64_t params = model->parameter_count(), params_folded = folded->parameter_count();
  const int64_t buffers = buffer_count(*model), buffers_folded = buffer_count(*folded);
  lab.say("\n              parameters   buffers (running statistics)");
  lab.say("unfolded   %13lld   %7lld", static_cast<long long>(params), static_cast<long long>(buffers));
  lab.say("folded     %13lld   %7lld", static_cast<long long>(params_folded), static_cast<long long>(buffers_folded));
  lab.record("fold_parameters", params);
  lab.record("fold_parameters_folded", params_folded);
  lab.record("fold_buffers", buffers);
  lab.record("fold_buffers_folded", buffers_folded);

  // The folded convs' weights and biases, for the PyTorch cross-check: per output channel, the
  // sum of |W'| and b'.
  int conv_index = 0;
  for (const auto& [name, child] : folded->named_children()) {
    auto conv = std::dynamic_pointer_cast<nn::Conv2dImpl>(child);
    if (!conv) continue;
    std::string key = "fold_conv" + std::to_string(conv_index++);
    lab.record(key + "_weight_l1", sum(abs(conv->weight), {1, 2, 3}).to_vector<float>());
    lab.record(key + "_bias", conv->bias.to_vector<float>());
  }

  std::printf("\ntiming inference (median of %lld runs each, alternating unfolded and folded) ... ",
              static_cast<long long>(kTimedRuns));
  std::fflush(stdout);
  Tensor batch = x.narrow(0, 0, 256);
  constexpr int kSingles = 50;
  auto singles = [&](nn::Module& m) {
    return [&m, &x] {
      for (int i = 0; i < kSingles; ++i) m.forward(x.narrow(0, i, 1));
    };
  };
  Timings singles_ms = alternating_runs(singles(*model), singles(*folded), 1e3 / kSingles);
  Timings batch_ms = alternating_runs([&] { model->forward(batch); }, [&] { folded->forward(batch); }, 1e3);
  std::printf("done\n");
  const double t1 = median(singles_ms.a), t1_folded = median(singles_ms.b);
  const double t256 = median(batch_ms.a), t256_folded = median(batch_ms.b);
  lab.say("\n             unfolded        folded          speed-up");
  lab.say("batch 1     %8.3f ms     %8.3f ms      %.2fx", t1, t1_folded, t1 / t1_folded);
  lab.say("batch 256   %8.1f ms     %8.1f ms      %.2fx", t256, t256_folded, t256 / t256_folded);
  lab.record("fold_batch1_ms", t1);
  lab.record("fold_batch1_folded_ms", t1_folded);
  lab.record("fold_batch256_ms", t256);
  lab.record("fold_batch256_folded_ms", t256_folded);
  auto panel = [](const char* title, const Timings& t) {
    train::Chart c{title, "run (alternating)", "ms", {{"unfolded", {}}, {"folded", {}}}};
    for (size_t run = 0; run < t.a.size(); ++run) {
      c.series[0].points.emplace_back(static_cast<double>(run + 1), t.a[run]);
      c.series[1].points.emplace_back(static_cast<double>(run + 1), t.b[run]);
    }
    return c;
  };
  lab.chart({panel("batch 1: ms per image", singles_ms), panel("batch 256: ms per batch", batch_ms)});
  lab.say("%s", "");
  lab.explain(
      "The two run at about the same speed in wick: at inference nn::Sequential already fuses each "
      "Conv2d + BatchNorm2d (+ ReLU) into one convolution with the same W' and b', on the fly. "
      "Folding still matters for deployment: the saved model has no BN layers, and any runtime "
      "can run it. The outputs are what matter: folding must not change them.");
  lab.verdict(relative <= 1e-5, "without its %d BatchNorm layers the model gives the same outputs (%.2g apart)",
              folded_layers, relative);
}

}  // namespace wick::cli
