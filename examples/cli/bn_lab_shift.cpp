// bn-lab covariate-shift: BatchNorm's outputs shifted and rescaled at random every step (Santurkar
// et al. 2018): if BN worked by keeping each layer's input distribution still, this would undo it.
#include <chrono>
#include <cstdio>

#include "bn_lab_training.h"

namespace wick::cli {
namespace {

constexpr int64_t kSteps = 300, kBatch = 64, kTestImages = 2000;
constexpr double kLr = 0.1, kShift = 0.5, kScaleLo = 0.75, kScaleHi = 1.25;

struct ShiftRun {
  const char* name = "";
  double acc = 0, last_loss = 0;  // test accuracy; mean loss of the last 50 steps
  int64_t diverged = 0;           // the step whose loss was not finite (training stopped there); 0: none
  train::Series curve;            // the training loss, mean of every 10 steps
};

// The MLP with (bn) BatchNorm1d, and with (noisy) after each BatchNorm y = x·s + m, per channel,
// s ~ U[kScaleLo, kScaleHi) and m ~ U[-kShift, kShift) drawn anew at every training forward
// (identity while *noise_on is false: evaluation).
nn::Sequential shifted_mlp(const Data& data, bool bn, bool noisy, const bool* noise_on) {
  nn::Sequential base = deep_mlp(data, 1.0, bn ? nn::Norm::Batch : nn::Norm::None);
  if (!noisy) return base;
  nn::Sequential out;
  for (const auto& [name, child] : base->named_children()) {
    out->push_back(child);
    if (!std::dynamic_pointer_cast<nn::BatchNormImplBase>(child)) continue;
    out->push_back(nn::Functional([noise_on](const Tensor& x) {
      if (!*noise_on) return x;
      Tensor scale = rand({1, x.size(1)}) * (kScaleHi - kScaleLo) + kScaleLo;
      Tensor shift = rand({1, x.size(1)}) * (2 * kShift) - kShift;
      return x * scale + shift;
    }));
  }
  return out;
}

ShiftRun train_one(const Lab& lab, const Data& data, const char* name, bool bn, bool noisy) {
  ShiftRun r;
  r.name = name;
  manual_seed(lab.args().seed);
  bool noise_on = true;
  nn::Sequential model = shifted_mlp(data, bn, noisy, &noise_on);
  optim::SGD opt(model->parameters(), optim::SGDOptions(kLr).momentum(0.9));
  std::vector<double> losses;
  train::FitHooks hooks;
  hooks.on_step = [&](const train::StepInfo& s) { return losses.push_back(s.loss), true; };
  try {
    train::fit(*model, opt, *data.train, train::FitOptions().batch_size(kBatch).seed(lab.args().seed).progress(false),
               hooks);
  } catch (const Error&) {  // the loss was not finite: no update was made with it
    r.diverged = static_cast<int64_t>(losses.size()) + 1;
  }
  r.curve.name = name;
  for (size_t at = 10; at <= losses.size(); at += 10) {
    double sum = 0;
    for (size_t i = at - 10; i < at; ++i) sum += losses[i] / 10;
    r.curve.points.emplace_back(static_cast<double>(at), sum);
  }
  const size_t tail = std::min<size_t>(50, losses.size());
  for (size_t i = losses.size() - tail; i < losses.size(); ++i) r.last_loss += losses[i] / static_cast<double>(tail);
  noise_on = false;
  r.acc = train::evaluate(*model, *data.test, 500).accuracy;
  return r;
}

}  // namespace

void lab_covariate_shift(Lab& lab) {
  lab.explain(
      "Ioffe & Szegedy (2015) introduced BN to reduce \"internal covariate shift\": as earlier layers "
      "learn, the distribution of each layer's input keeps moving, and BN was to hold it still. Santurkar "
      "et al. (2018, \"How Does Batch Normalization Help Optimization?\") tested that explanation by "
      "doing the opposite: after every BN layer they add noise whose mean and scale change at every step, "
      "so the next layer's input distribution moves far more than it ever would without BN, and found "
      "that the network trains as well as with plain BN. Their account is that BN makes the loss "
      "smoother to optimize, not its inputs stiller.");
  Data data = lab_data(lab, kSteps * kBatch, kTestImages);
  lab.explain("Setup: " + deep_mlp_text() +
              ", " + std::to_string(kSteps) + " steps of SGD (lr 0.1, large enough that BN matters; momentum "
              "0.9, batch " + std::to_string(kBatch) + ") from the same initialization (--seed " +
              std::to_string(lab.args().seed) + "): with BatchNorm1d; with BatchNorm1d followed by y = x·s + m per "
              "channel, s drawn from [0.75, 1.25) and m from [−0.5, 0.5) anew at every step (a shift of up to "
              "half the normalized values' standard deviation; off at test time); and without normalization.");
  auto start = std::chrono::steady_clock::now();
  std::vector<ShiftRun> runs{train_one(lab, data, "BatchNorm", true, false),
                             train_one(lab, data, "BatchNorm + shifting noise", true, true),
                             train_one(lab, data, "no normalization", false, false)};
  lab.say("                               train loss        test accuracy");
  lab.say("                               (last 50 steps)   (where it stopped)");
  const char* keys[] = {"bn", "noisy_bn", "plain"};
  for (size_t i = 0; i < runs.size(); ++i) {
    lab.say("%-30s %10.4g        %9s%s", runs[i].name, runs[i].last_loss, format_percent(runs[i].acc).c_str(),
            runs[i].diverged ? ("  diverged at step " + std::to_string(runs[i].diverged)).c_str() : "");
    lab.record(std::string("shift_") + keys[i] + "_diverged_at", runs[i].diverged);
    lab.record(std::string("shift_") + keys[i] + "_acc", runs[i].acc);
    lab.record(std::string("shift_") + keys[i] + "_train_loss", runs[i].last_loss);
  }
  lab.say("(%.1f s)", seconds_since(start));
  lab.chart({{"training loss, lr 0.1", "step", "cross-entropy (mean of 10 steps)",
              {runs[0].curve, runs[1].curve, runs[2].curve}, false, true}});
  const ShiftRun &bn = runs[0], &noisy = runs[1], &plain = runs[2];
  lab.explain(
      "The noise costs little accuracy, if any (it is off at test time, so the network never saw exactly "
      "its test-time inputs), and the network with the most covariate shift of the three still trains at "
      "a learning rate where the network without normalization " +
      std::string(plain.diverged ? "diverges" : "does worse") + ". BN's benefit survives the destruction of "
      "what it was supposed to provide.");
  lab.verdict(!noisy.diverged && !bn.diverged && noisy.acc > bn.acc - 0.06 && (plain.diverged || noisy.acc > plain.acc),
              "with its outputs shifted and rescaled at random every step, BN still trains to %s (plain BN: %s; "
              "no normalization: %s): holding the input distribution still is not what makes it work",
              format_percent(noisy.acc).c_str(), format_percent(bn.acc).c_str(),
              plain.diverged ? ("diverged at step " + std::to_string(plain.diverged)).c_str()
                             : format_percent(plain.acc).c_str());
}

}  // namespace wick::cli
