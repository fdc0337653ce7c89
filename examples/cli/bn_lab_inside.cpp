// bn-lab inside: what each layer of a deep MLP receives and sends back, with and without BatchNorm:
// histograms of every ReLU's input and of the loss's gradient at its output at the first and the last step,
// and each layer's update:data ratio over training (the diagnostics of Karpathy's makemore, part 3).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "bn_lab_training.h"

namespace wick::cli {
namespace {

constexpr int64_t kSteps = 300, kBatch = 64, kTestImages = 2000, kBins = 40;
constexpr double kLr = 0.01;

// What reaches each ReLU (its input) and what comes back to its output (dL/d output: what the
// layer passes back to the ones before it) in one training step.
struct Look {
  int64_t step = 0;
  std::vector<Tensor> inputs, grads;  // [batch, kWidth] per hidden layer
};

struct InsideRun {
  bool bn = false;
  std::vector<Look> looks;           // at step 1 and at the last step
  std::vector<train::Series> ratio;  // per hidden layer: std(ΔW) / std(W), mean of every 10 steps
  std::vector<double> early_ratio, late_ratio;  // per hidden layer: the mean of the first 50 steps, the last 100
  double acc = 0;
};

double std_of(const Tensor& t) { return std::sqrt(var(t, {0, 1}, false).item<double>()); }

// One training step, child by child; when `look`, keeps every ReLU's input and adds a zero that
// needs a gradient to its output, so that the zero's gradient is the gradient there (the values are
// unchanged).
Tensor forward(nn::SequentialImpl& model, const Tensor& x, Look* look) {
  Tensor h = x;
  std::vector<Tensor> taps;
  for (size_t i = 0; i < model.size(); ++i) {
    std::shared_ptr<nn::Module> child = model[i];
    const bool relu = look && std::dynamic_pointer_cast<nn::ReLUImpl>(child);
    if (relu) look->inputs.push_back(h.detach());
    h = child->forward(h);
    if (relu) {
      taps.push_back(zeros(h.shape()).requires_grad_());
      h = h + taps.back();
    }
  }
  if (look) look->grads = taps;  // read after backward
  return h;
}

InsideRun train_one(const Lab& lab, const Data& data, bool bn) {
  InsideRun r;
  r.bn = bn;
  manual_seed(lab.args().seed);
  nn::Sequential model = deep_mlp(data, 1.0, bn ? nn::Norm::Batch : nn::Norm::None);
  std::vector<Tensor> weights;  // the hidden Linear layers'
  for (size_t i = 0; i < model->size(); ++i)
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>((*model)[i])) {
      linear->reset_parameters();  // back to the default init
      if (linear->weight.size(0) == kWidth) weights.push_back(linear->weight);
    }
  r.ratio.resize(weights.size());
  r.early_ratio.assign(weights.size(), 0.0);
  r.late_ratio.assign(weights.size(), 0.0);
  for (size_t l = 0; l < weights.size(); ++l) r.ratio[l].name = "layer " + std::to_string(l + 1);
  optim::SGD opt(model->parameters(), optim::SGDOptions(kLr).momentum(0.9));
  data::DataLoader loader(data.train, data::DataLoaderOptions(kBatch).shuffle(true).seed(lab.args().seed));
  std::vector<double> window(weights.size(), 0.0);
  int64_t step = 0;
  for (int64_t epoch = 0; step < kSteps; ++epoch) {
    loader.set_epoch(epoch);
    for (const data::Batch& b : loader) {
      ++step;
      const bool looking = step == 1 || step == kSteps;
      Look look{step, {}, {}};
      Tensor loss = cross_entropy(forward(*model, b.data, looking ? &look : nullptr), b.target);
      opt.zero_grad();
      loss.backward();
      if (looking) {
        for (Tensor& tap : look.grads) tap = tap.grad();
        r.looks.push_back(look);
      }
      std::vector<Tensor> before;
      for (const Tensor& w : weights) before.push_back(w.detach().clone());
      opt.step();
      NoGradGuard no_grad;
      for (size_t l = 0; l < weights.size(); ++l) {
        const double ratio = std_of(weights[l] - before[l]) / std_of(before[l]);
        window[l] += ratio / 10;
        if (step <= 50) r.early_ratio[l] += ratio / 50;
        if (step > kSteps - 100) r.late_ratio[l] += ratio / 100;
        if (step % 10 == 0) r.ratio[l].points.emplace_back(static_cast<double>(step), window[l]), window[l] = 0;
      }
      if (step == kSteps) break;
    }
  }
  r.acc = train::evaluate(*model, *data.test, 500).accuracy;
  return r;
}

// One density curve per layer over [-range, range], `kBins` bins (values beyond are left out).
train::Chart histograms(const std::string& title, const std::string& x_label, const std::vector<Tensor>& layers,
                        double range) {
  train::Chart c{title, x_label, "density", {}};
  const double width = 2 * range / kBins;
  for (size_t l = 0; l < layers.size(); ++l) {
    std::vector<double> count(kBins, 0.0);
    Tensor t = layers[l].contiguous();
    const float* v = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double bin = std::floor((v[i] + range) / width);
      if (bin >= 0 && bin < kBins) count[static_cast<size_t>(bin)] += 1;
    }
    train::Series s{"layer " + std::to_string(l + 1), {}};
    for (int64_t k = 0; k < kBins; ++k)
      s.points.emplace_back(-range + (k + 0.5) * width, count[k] / (static_cast<double>(t.numel()) * width));
    c.series.push_back(s);
  }
  return c;
}

// The panel's half-width: three times the widest layer's standard deviation.
double range_of(const std::vector<Tensor>& layers) {
  double widest = 0;
  for (const Tensor& t : layers) widest = std::max(widest, std_of(t));
  return 3 * widest;
}

}  // namespace

void lab_inside(Lab& lab) {
  lab.explain(
      "Looking inside a network while it trains is how one finds out why it does not (Karpathy's "
      "\"Building makemore\", part 3): the histogram of what reaches each nonlinearity, of the gradient "
      "that comes back to each layer, and the update:data ratio, how much one optimizer step changes each "
      "layer's weights relative to their size (around 1e-3 is his rule of thumb; far below, the layer "
      "barely learns; far above, it thrashes).");
  Data data = lab_data(lab, kSteps * kBatch, kTestImages);
  lab.explain("Setup: " + deep_mlp_text() +
              " (Linear, then BatchNorm1d or nothing, then ReLU) with nn::Linear's default init, which is "
              "PyTorch's: weights and biases uniform in ±1/sqrt(fan_in), a weight standard deviation 0.41 "
              "of He's; the same draws for both (--seed " + std::to_string(lab.args().seed) + "). " +
              std::to_string(kSteps) + " steps of SGD (lr 0.01, momentum 0.9, batch " + std::to_string(kBatch) +
              "); activations and gradients measured at step 1 and step " + std::to_string(kSteps) +
              " on that step's batch.");
  auto start = std::chrono::steady_clock::now();
  const InsideRun runs[] = {train_one(lab, data, false), train_one(lab, data, true)};
  const char* names[] = {"no BatchNorm", "BatchNorm"};
  const char* keys[] = {"inside_plain", "inside_bn"};
  const size_t layers = runs[0].late_ratio.size();
  // in[b][k][l], grad[b][k][l]: the standard deviations, run b, look k, layer l
  std::vector<std::vector<double>> in[2], grad[2];
  for (int b = 0; b < 2; ++b)
    for (const Look& look : runs[b].looks) {
      in[b].emplace_back();
      grad[b].emplace_back();
      for (size_t l = 0; l < layers; ++l) {
        in[b].back().push_back(std_of(look.inputs[l]));
        grad[b].back().push_back(std_of(look.grads[l]));
        const std::string key = std::string(keys[b]) + "_step" + std::to_string(look.step) + "_layer" +
                                std::to_string(l + 1);
        lab.record(key + "_input_std", in[b].back()[l]);
        lab.record(key + "_grad_std", grad[b].back()[l]);
      }
    }
  lab.say("              std of each ReLU's input     std of dL/d(ReLU output)   update:data ratio");
  lab.say("                                                                        (steps 1-50, last 100)");
  lab.say("layer  step      no BN         BN             no BN         BN            no BN         BN");
  for (size_t k = 0; k < runs[0].looks.size(); ++k)
    for (size_t l = 0; l < layers; ++l) {
      const std::vector<double>& ratio0 = k ? runs[0].late_ratio : runs[0].early_ratio;
      const std::vector<double>& ratio1 = k ? runs[1].late_ratio : runs[1].early_ratio;
      lab.say("%5zu  %4lld  %9.3g  %9.3g         %9.3g  %9.3g         %9.3g  %9.3g", l + 1,
              static_cast<long long>(runs[0].looks[k].step), in[0][k][l], in[1][k][l], grad[0][k][l], grad[1][k][l],
              ratio0[l], ratio1[l]);
    }
  for (int b = 0; b < 2; ++b)
    for (size_t l = 0; l < layers; ++l) {
      const std::string key = std::string(keys[b]) + "_layer" + std::to_string(l + 1);
      lab.record(key + "_early_update_ratio", runs[b].early_ratio[l]);
      lab.record(key + "_late_update_ratio", runs[b].late_ratio[l]);
    }
  for (int b = 0; b < 2; ++b) {
    lab.say("test accuracy after %lld steps, %-12s %s", static_cast<long long>(kSteps), names[b],
            format_percent(runs[b].acc).c_str());
    lab.record(std::string(keys[b]) + "_acc", runs[b].acc);
  }
  lab.say("(%.1f s)", seconds_since(start));

  std::vector<train::Chart> panels;
  for (size_t k = 0; k < runs[0].looks.size(); ++k) {
    const std::string at = ", step " + std::to_string(runs[0].looks[k].step);
    double in_range = 0, grad_range = 0;
    for (const InsideRun& r : runs) {
      in_range = std::max(in_range, range_of(r.looks[k].inputs));
      grad_range = std::max(grad_range, range_of(r.looks[k].grads));
    }
    for (const InsideRun& r : runs)
      panels.push_back(histograms(std::string(names[r.bn]) + ": ReLU inputs" + at, "value", r.looks[k].inputs, in_range));
    for (const InsideRun& r : runs)
      panels.push_back(histograms(std::string(names[r.bn]) + ": gradients" + at, "dL/d(ReLU output)", r.looks[k].grads,
                                  grad_range));
  }
  for (const InsideRun& r : runs)
    panels.push_back({std::string(names[r.bn]) + ": update:data ratio", "step", "std(ΔW) / std(W)", r.ratio, false, true});
  lab.chart(panels, 2);

  auto spread = [](const std::vector<double>& v) {  // largest over smallest
    return *std::max_element(v.begin(), v.end()) / *std::min_element(v.begin(), v.end());
  };
  const double plain_shrink = in[0][0][0] / in[0][0][layers - 1], plain_grad = grad[0][0][layers - 1] / grad[0][0][0];
  const double plain_early = *std::max_element(runs[0].early_ratio.begin(), runs[0].early_ratio.end());
  const double bn_early = *std::min_element(runs[1].early_ratio.begin(), runs[1].early_ratio.end());
  lab.explain(
      "Without BN the default init shrinks the signal layer by layer (by " + g3(plain_shrink) + "x from the first "
      "hidden layer to the last; the biases keep it from vanishing), and the gradient shrinks the same way on its "
      "way back (" + g3(plain_grad) + "x smaller at the first layer than at the last): every layer's update:data "
      "ratio starts far below 1e-3, and the network spends most of its steps growing its weights until the signal "
      "gets through. With BN every layer's input has standard deviation 1 whatever the weights, the gradients "
      "stay within " + g3(spread(grad[1][0])) + "x of each other across layers, and every layer learns at a "
      "steady rate from the first step. By step " + std::to_string(kSteps) + " the network without BN has "
      "grown its weights until every layer's input has a standard deviation between " +
      g3(*std::min_element(in[0].back().begin(), in[0].back().end())) + " and " +
      g3(*std::max_element(in[0].back().begin(), in[0].back().end())) + ", but it spent its first steps getting "
      "there, and it ends behind.");
  lab.verdict(plain_shrink > 5 && plain_grad > 20 && spread(in[1][0]) < 1.01 && spread(grad[1][0]) < 5 &&
                  plain_early < 5e-4 && bn_early > 1e-3 && runs[1].acc > runs[0].acc + 0.1,
              "with the default init and no BN the signal shrinks %sx through %lld layers, the first layer's gradient "
              "is %sx smaller than the last's and the update:data ratios start at most %s; with BN every layer "
              "starts at std 1 and learns at %s or more, and tests at %s against %s",
              g3(plain_shrink).c_str(), static_cast<long long>(kHidden), g3(plain_grad).c_str(), g3(plain_early).c_str(),
              g3(bn_early).c_str(), format_percent(runs[1].acc).c_str(), format_percent(runs[0].acc).c_str());
}

}  // namespace wick::cli
