// bn-lab init-scale: a deep MLP initialized at several multiples of He's scale, trained with and
// without BatchNorm: which scales train at all, and the activations that explain why.
#include <chrono>
#include <cmath>
#include <cstdio>

#include "bn_lab_training.h"

namespace wick::cli {
namespace {

constexpr double kScales[] = {0.25, 0.5, 1, 2, 4};
constexpr int64_t kSteps = 300, kBatch = 64, kTestImages = 2000;
constexpr double kLr = 0.01;

}  // namespace

std::string deep_mlp_text() {
  return "an MLP of " + std::to_string(kHidden) + " hidden layers of " + std::to_string(kWidth);
}

nn::Sequential deep_mlp(const Data& data, double scale, nn::Norm norm) {
  nn::Sequential m{nn::Flatten()};
  int64_t width = numel_of(data.train->example_shape());
  for (int64_t i = 0; i < kHidden; ++i) {
    nn::Linear layer(width, kWidth);
    {
      NoGradGuard no_grad;
      nn::init::kaiming_normal_(layer->weight, 0.0, "fan_in", "relu");
      layer->weight.mul_(scale);
      layer->bias.zero_();
    }
    m->push_back(layer);
    if (norm == nn::Norm::Batch) m->push_back(nn::BatchNorm1d(kWidth));
    if (norm == nn::Norm::Group) m->push_back(nn::GroupNorm(8, kWidth));
    if (norm == nn::Norm::Layer) m->push_back(nn::LayerNorm(nn::LayerNormOptions({kWidth})));
    m->push_back(nn::ReLU());
    width = kWidth;
  }
  m->push_back(nn::Linear(width, data.classes));
  return m;
}

namespace {

struct InitRun {
  double scale = 0;
  bool bn = false;
  double last_std = 0;     // std of the last hidden layer's output at initialization (first batch)
  int64_t diverged = 0;    // the step whose loss was not finite; 0: none
  double first_loss = 0;   // step 1's loss
  double acc = 0;          // test accuracy after training (or where it diverged)
};

InitRun train_one(const Lab& lab, const Data& data, double scale, bool bn) {
  InitRun r;
  r.scale = scale;
  r.bn = bn;
  manual_seed(lab.args().seed);
  nn::Sequential model = deep_mlp(data, scale, bn ? nn::Norm::Batch : nn::Norm::None);
  optim::SGD opt(model->parameters(), optim::SGDOptions(kLr).momentum(0.9));
  data::DataLoader loader(data.train, data::DataLoaderOptions(kBatch).shuffle(true).seed(lab.args().seed));
  int64_t step = 0;
  for (int64_t epoch = 0; step < kSteps; ++epoch) {
    loader.set_epoch(epoch);
    for (const data::Batch& b : loader) {
      if (step == 0) {  // what the classifier sees before any training
        NoGradGuard no_grad;
        Tensor h = b.data;
        for (size_t i = 0; i + 1 < model->size(); ++i) h = (*model)[i]->forward(h);
        r.last_std = std::sqrt(var(h, {0, 1}, false).item<double>());
      }
      Tensor loss = cross_entropy(model->forward(b.data), b.target);
      const double value = loss.item<double>();
      if (step == 0) r.first_loss = value;
      if (!std::isfinite(value)) {
        r.diverged = step + 1;
        break;
      }
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (++step == kSteps) break;
    }
    if (r.diverged) break;
  }
  r.acc = train::evaluate(*model, *data.test, 500).accuracy;
  return r;
}

}  // namespace

void lab_init_scale(Lab& lab) {
  lab.explain(
      "How large should the initial weights be? He et al. (2015) chose the standard deviation "
      "sqrt(2 / fan_in) so that each ReLU layer keeps the size of its input: multiply it by s and "
      "every layer multiplies the activations by about s, so after L layers they have grown or shrunk "
      "by s^L. BatchNorm divides each layer's output by its own standard deviation, so the scale of the "
      "weights in front of it cancels out of the forward pass.");
  Data data = lab_data(lab, kSteps * kBatch, kTestImages);
  lab.explain("Setup: " + deep_mlp_text() +
              " (Linear, then BatchNorm1d or nothing, then ReLU) on Fashion-MNIST, hidden weights drawn with "
              "He's standard deviation times s, the same draws for both (--seed " + std::to_string(lab.args().seed) +
              "); " + std::to_string(kSteps) + " steps of SGD (lr " + g3(kLr) + ", momentum 0.9, batch " +
              std::to_string(kBatch) + "); tested on the first " + std::to_string(kTestImages) + " test images.");
  auto start = std::chrono::steady_clock::now();
  std::vector<InitRun> runs;
  for (bool bn : {false, true})
    for (double s : kScales) runs.push_back(train_one(lab, data, s, bn));

  lab.say("     s   BN    last hidden layer's std   step-1 loss   test accuracy");
  lab.say("                 at initialization");
  for (const InitRun& r : runs) {
    lab.say("%6.2f  %-4s  %23.3g   %11.4g   %s", r.scale, r.bn ? "yes" : "no", r.last_std, r.first_loss,
            r.diverged ? ("diverged at step " + std::to_string(r.diverged)).c_str() : format_percent(r.acc).c_str());
    std::string scale = g3(r.scale);  // "0.25" -> "0_25": a dot would nest the --json keys
    for (char& c : scale) c = c == '.' ? '_' : c;
    const std::string key = std::string("init_") + (r.bn ? "bn" : "plain") + "_s" + scale;
    lab.record(key + "_last_std", r.last_std);
    lab.record(key + "_first_loss", r.first_loss);
    lab.record(key + "_acc", r.acc);
    lab.record(key + "_diverged_at", r.diverged);
  }
  lab.say("(%.1f s)", seconds_since(start));

  train::Chart acc{"test accuracy after " + std::to_string(kSteps) + " steps", "init scale s (x He)", "accuracy",
                   {{"no BatchNorm", {}}, {"BatchNorm", {}}}, true};
  train::Chart act{"last hidden layer's std at init", "init scale s (x He)", "std", {{"no BatchNorm", {}}, {"BatchNorm", {}}},
                   true, true};
  for (const InitRun& r : runs) {
    acc.series[r.bn].points.emplace_back(r.scale, r.acc);
    act.series[r.bn].points.emplace_back(r.scale, r.last_std);
  }
  lab.chart({acc, act});

  const size_t n = std::size(kScales);
  auto at = [&](bool bn, size_t i) { return runs[(bn ? n : 0) + i]; };
  double bn_worst = 1, plain_extreme = 0;
  for (size_t i = 0; i < n; ++i) bn_worst = std::min(bn_worst, at(true, i).acc);
  plain_extreme = std::max(at(false, 0).acc, at(false, n - 1).acc);
  const double plain_he = at(false, 2).acc;
  lab.explain(
      "Without BN the activations at the last hidden layer span " + g3(at(false, 0).last_std) + " to " +
      g3(at(false, n - 1).last_std) + " across the scales: too small, and the gradients vanish with them; "
      "too large, and the first steps are huge. With BN every scale starts with activations of the same size, "
      "and the scale of the weights only changes their effective learning rate (a weight s times larger "
      "gets a gradient s times smaller), which is why BN made deep networks far less sensitive to "
      "initialization (Ioffe & Szegedy, 2015).");
  lab.verdict(bn_worst >= 0.7 && plain_he >= 0.7 && plain_extreme < plain_he - 0.2,
              "with BN every scale from %g to %g trains (worst %s); without BN only scales near He's do "
              "(s = 1: %s, the extremes at best %s)",
              kScales[0], kScales[n - 1], format_percent(bn_worst).c_str(), format_percent(plain_he).c_str(),
              format_percent(plain_extreme).c_str());
}

}  // namespace wick::cli
