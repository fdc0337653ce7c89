// Helpers the bn-lab experiments share: Fashion-MNIST images in file order, a small-cnn that any
// program can rebuild from --seed (tools/golden/bn_lab_basics.py does), and a layer-by-layer
// forward that shows what each BatchNorm layer saw.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bn_lab.h"

namespace wick::cli {

// Images start .. start + count − 1 of `set` in file order, as the DataLoader makes them.
data::Batch file_order_batch(const data::Dataset& set, int64_t start, int64_t count);

// The training images as plain [0, 1] pixels (p / 255, no mean/std normalization); shares pixels.
std::shared_ptr<data::ImageDataset> raw_pixels(const data::ImageDataset& images);

// small-cnn freshly initialized after manual_seed(seed) (layers draw their weights in order: 0, 4,
// 9, 11, which tools/golden/bn_lab_basics.py reproduces), in training mode.
nn::Sequential seeded_small_cnn(uint64_t seed);

// The lab's model: seeded_small_cnn(--seed) whose BatchNorm running statistics are the plain
// average over the first `batches` training batches of 64 in file order (nn::recalibrate_batchnorm).
constexpr int64_t kCalibrationBatches = 20;
nn::Sequential lab_model(const Lab& lab, const data::Dataset& train, int64_t batches = kCalibrationBatches);
// One line saying what lab_model built, for the experiments' printout.
std::string lab_model_text(const Lab& lab);

// Runs `model` child by child (in its current modes) on x; returns the output and, for each
// BatchNorm layer, its index in the Sequential and the input it received.
struct Trace {
  Tensor output;
  std::vector<std::pair<size_t, Tensor>> bn_inputs;
};
Trace trace_forward(const nn::SequentialImpl& model, const Tensor& x);

// max |a − b| over all elements, as a double.
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace wick::cli
