// bn-lab alternatives: BatchNorm, GroupNorm, LayerNorm and no normalization in the same networks
// (a strided CNN, the deep MLP), each trained at batch sizes from 2 to 128 on the same images with
// the learning rate scaled with the batch: where each wins (Wu & He 2018).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bn_lab_training.h"

namespace wick::cli {
namespace {

constexpr int64_t kBatches[] = {2, 8, 32, 128};
constexpr nn::Norm kNorms[] = {nn::Norm::Batch, nn::Norm::Group, nn::Norm::Layer, nn::Norm::None};
constexpr const char* kNormNames[] = {"BatchNorm", "GroupNorm", "LayerNorm", "none"};
constexpr int64_t kTrainImages = 8192, kTestImages = 2000;
constexpr double kLr32 = 0.05;  // at batch 32; lr = kLr32 * batch / 32 (Goyal et al. 2017)
constexpr int64_t kWidths[] = {16, 32, 32, 64, 64};  // output channels; every layer after the first halves the side

// Five [Conv2d 3x3, norm, ReLU], the last four with stride 2 (28 -> 14 -> 7 -> 4 -> 2 pixels),
// global average pooling, Linear to the classes.
nn::Sequential strided_cnn(const Data& data, nn::Norm norm) {
  nn::Sequential m;
  int64_t in = data.train->example_shape()[0];
  for (size_t i = 0; i < std::size(kWidths); ++i) {
    m->push_back(nn::Conv2d(nn::Conv2dOptions(in, kWidths[i], 3).stride(i ? 2 : 1).padding(1)));
    m->push_back(nn::norm2d(norm, kWidths[i]));
    m->push_back(nn::ReLU());
    in = kWidths[i];
  }
  m->push_back(nn::AdaptiveAvgPool2d(1));
  m->push_back(nn::Flatten());
  m->push_back(nn::Linear(in, data.classes));
  return m;
}

double lr_at(int64_t batch) { return kLr32 * static_cast<double>(batch) / 32; }

// Test accuracy after one pass over the training images (or from the weights training stopped at,
// when a loss was not finite).
double train_one(const Lab& lab, const Data& data, bool cnn, nn::Norm norm, int64_t batch) {
  manual_seed(lab.args().seed);
  nn::Sequential model = cnn ? strided_cnn(data, norm) : deep_mlp(data, 1.0, norm);
  optim::SGD opt(model->parameters(), optim::SGDOptions(lr_at(batch)).momentum(0.9));
  try {
    train::fit(*model, opt, *data.train, train::FitOptions().batch_size(batch).seed(lab.args().seed).progress(false));
  } catch (const Error&) {  // the loss was not finite: the weights are where it stopped
  }
  return train::evaluate(*model, *data.test, 500).accuracy;
}

}  // namespace

void lab_alternatives(Lab& lab) {
  lab.explain(
      "BatchNorm normalizes each channel with statistics over the batch (and, in a CNN, over the pixels), so "
      "what it computes for one image depends on the others in its batch, and its running statistics are "
      "only as good as those batches. GroupNorm (Wu & He 2018) normalizes each image over groups of channels, "
      "LayerNorm (Ba et al. 2016) over all of its channels: neither looks at the other images, so both "
      "compute the same thing at any batch size and in both modes. Wu & He report GroupNorm's ImageNet "
      "error 10.6 points below BatchNorm's at 2 images per batch, and BatchNorm slightly ahead at 32.");
  Data data = lab_data(lab, kTrainImages, kTestImages);
  lab.explain("Setup: two networks, each with every normalization layer BatchNorm, GroupNorm (8 groups), "
              "LayerNorm or none: a CNN of five 3x3 convolutions (16, 32, 32, 64, 64 channels; all but the first "
              "with stride 2, so the last works on 2x2 pixels), and " + deep_mlp_text() +
              " from init-scale. Each is trained from the same "
              "initialization (--seed " + std::to_string(lab.args().seed) + ") for one pass over the first " +
              std::to_string(kTrainImages) + " training images at batch 2, 8, 32 and 128, SGD with momentum 0.9 "
              "and the learning rate scaled with the batch (0.05 at batch 32: 0.003125 at batch 2, 0.2 at 128), "
              "and tested in eval mode on the first " + std::to_string(kTestImages) + " test images. Denormal "
              "floats are flushed to zero (set_flush_denormal): at batch 2 the MLP's BatchNorm sends back "
              "gradients near 1e-40, which an x86 core handles several times slower than normal floats.");
  FlushDenormals flush;
  auto start = std::chrono::steady_clock::now();
  // acc[net][batch][norm]; net 0 the CNN, 1 the MLP
  std::vector<std::vector<std::vector<double>>> acc(2);
  const char* nets[] = {"cnn", "mlp"};
  for (int net = 0; net < 2; ++net)
    for (int64_t b : kBatches) {
      acc[net].emplace_back();
      for (size_t n = 0; n < std::size(kNorms); ++n) {
        acc[net].back().push_back(train_one(lab, data, net == 0, kNorms[n], b));
        lab.record(std::string("alt_") + nets[net] + "_b" + std::to_string(b) + "_" + nn::norm_name(kNorms[n]) + "_acc",
                   acc[net].back().back());
      }
    }
  for (int net = 0; net < 2; ++net) {
    lab.say("%s", net ? "MLP (6 hidden layers of 128)" : "CNN (5 conv layers, 28 -> 2 pixels)");
    lab.say("batch  lr          BatchNorm  GroupNorm  LayerNorm   none     best");
    for (size_t i = 0; i < std::size(kBatches); ++i) {
      const std::vector<double>& a = acc[net][i];
      const size_t best = static_cast<size_t>(std::max_element(a.begin(), a.end()) - a.begin());
      lab.say("%5lld  %-9g  %9s  %9s  %9s  %7s   %s", static_cast<long long>(kBatches[i]), lr_at(kBatches[i]),
              format_percent(a[0]).c_str(), format_percent(a[1]).c_str(), format_percent(a[2]).c_str(),
              format_percent(a[3]).c_str(), kNormNames[best]);
    }
    lab.say("%s", "");
  }
  lab.say("(%.1f s)", seconds_since(start));

  std::vector<train::Chart> panels;
  for (int net = 0; net < 2; ++net) {
    train::Chart c{net ? "MLP" : "CNN", "batch size", "test accuracy", {}, true};
    for (size_t n = 0; n < std::size(kNorms); ++n) {
      c.series.push_back({kNormNames[n], {}});
      for (size_t i = 0; i < std::size(kBatches); ++i)
        c.series.back().points.emplace_back(static_cast<double>(kBatches[i]), acc[net][i][n]);
    }
    panels.push_back(c);
  }
  lab.chart(panels);

  // BN's lead over the better of GroupNorm and LayerNorm at batch index i; its mean from batch 8 up.
  auto lead = [&](int net, size_t i) { return acc[net][i][0] - std::max(acc[net][i][1], acc[net][i][2]); };
  auto lead_from_8 = [&](int net) { return (lead(net, 1) + lead(net, 2) + lead(net, 3)) / 3; };
  const size_t b2 = 0, b128 = 3, none = 3;
  lab.explain(
      "At batch 2 the MLP's BatchNorm1d normalizes each feature over two numbers: (x − mean) / std is then ±1 "
      "whatever the images, so in training each feature only says which of the two images is larger, and "
      "the running statistics it is tested with come from such pairs. GroupNorm and LayerNorm lose nothing. "
      "In the CNN each channel's statistics also pool the pixels (even the last layer has 2 x 2 x 2 = 8 "
      "values per channel at batch 2), so BatchNorm degrades gently there: its lead shrinks or turns into a "
      "deficit. From "
      "batch 8 up BatchNorm is usually ahead (one training run per cell: differences of a point or two "
      "are within run-to-run noise): its noise regularizes, and it normalizes each channel on its own, "
      "where GroupNorm and LayerNorm tie channels together. Without normalization, the learning rate that "
      "comes with batch 128 is too large for either network: it diverges or stalls near chance (10%).");
  lab.verdict(lead(1, b2) < -0.2 && lead_from_8(0) > lead(0, b2) + 0.02 &&
                  lead_from_8(1) > lead(1, b2) + 0.2 && acc[0][b128][none] < 0.3 && acc[1][b128][none] < 0.3,
              "batch statistics fail at small batches: at batch 2 BatchNorm trails the better of GroupNorm and "
              "LayerNorm by %.1f points in the MLP; in the CNN its lead is %+.1f points at batch 2 and %+.1f on "
              "average from batch 8 up (MLP: %+.1f); without normalization neither trains at batch 128 (lr 0.2: %s "
              "and %s)",
              -100 * lead(1, b2), 100 * lead(0, b2), 100 * lead_from_8(0), 100 * lead_from_8(1),
              format_percent(acc[0][b128][none]).c_str(), format_percent(acc[1][b128][none]).c_str());
}

}  // namespace wick::cli
