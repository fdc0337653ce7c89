// train::evaluate, a classifier's loss, accuracy and confusion matrix over a dataset, and
// count_correct, the one accuracy count every loop in wick uses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/tensor.h"
#include "../data/dataset.h"
#include "../layers/module.h"
#include "../core/options.h"

namespace wick::train {

// [true class][predicted class] -> images.
using ConfusionMatrix = std::vector<std::vector<int64_t>>;

// How many rows of `logits` (N, classes) have their largest value at the class `target` (N, int64)
// names (the first largest on ties, as argmax). When `confusion` is given (classes x classes), each
// row is also counted in confusion[target][predicted].
int64_t count_correct(const Tensor& logits, const Tensor& target, ConfusionMatrix* confusion = nullptr);

// All options are read once, when evaluate starts.
struct EvalOptions {
  EvalOptions(int64_t batch_size = 256) : batch_size_(batch_size) {}  // NOLINT: implicit on purpose
  WICK_ARG(int64_t, batch_size);
  // Fills EvalResult::confusion.
  WICK_ARG(bool, confusion) = false;
  // Heads a progress bar (train::Progress) with the running accuracy; empty: no progress output.
  WICK_ARG(std::string, progress_label) = "";
};

struct EvalResult {
  double loss = 0;      // mean cross-entropy per image
  double accuracy = 0;  // correct / images
  double img_per_s = 0, seconds = 0;
  int64_t images = 0, correct = 0;
  ConfusionMatrix confusion;  // filled when asked for (dataset.num_classes() square)
};

// Runs `model` over `dataset` in order, in eval mode and without recording a graph. Every module's
// training flag and every BatchNorm layer's mode are restored afterwards (nn::ModeGuard), also when
// forward throws. Throws wick::Error for a non-positive batch size or an empty dataset.
EvalResult evaluate(nn::Module& model, const data::Dataset& dataset, const EvalOptions& options = EvalOptions());

}  // namespace wick::train
