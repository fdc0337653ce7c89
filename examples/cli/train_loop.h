// The training loop behind `wick train` and `wick finetune`: epochs of SGD-style steps with a
// progress bar, test accuracy after each epoch, metrics CSV and SVG curves.
#pragma once
#include <string>
#include <vector>

#include "common.h"
#include "plot.h"

namespace wick::cli {

struct LoopArgs {
  int64_t epochs = 2, batch_size = 64, max_steps = 0;  // max_steps 0: no limit
  uint64_t seed = 0;
  bool shuffle = true, quiet = false;
  std::string metrics_csv, plot_svg;
};

struct EpochRow {
  int64_t epoch = 0, steps = 0;
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, img_per_s = 0, seconds = 0;
};

struct LoopResult {
  std::vector<EpochRow> epochs;
  int64_t steps = 0;
  double train_seconds = 0, img_per_s = 0;
};

// Trains `model` on data.train with `optimizer`, evaluating on data.test after every epoch.
LoopResult train_loop(nn::Module& model, optim::Optimizer& optimizer, const Data& data, const LoopArgs& args);

}  // namespace wick::cli
