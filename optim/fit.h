// train::fit, the training loop as a building block: epochs of cross-entropy steps over a dataset
// with an optimizer, a progress bar, an optional test evaluation after each epoch, a metrics CSV,
// SVG curves, and hooks that see every step and epoch and may stop the run.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "layers/module.h"
#include "core/options.h"
#include "optim/metrics.h"
#include "optim/optimizer.h"

namespace wick::train {

// All options are read once, when fit starts.
struct FitOptions {
  WICK_ARG(int64_t, epochs) = 1;
  WICK_ARG(int64_t, batch_size) = 64;
  // Batches in a new random order every epoch (from `seed`; the DataLoader's own generators).
  WICK_ARG(bool, shuffle) = true;
  WICK_ARG(uint64_t, seed) = 0;
  // Stops after this many optimizer steps (the epoch in progress is then evaluated); 0: no limit.
  WICK_ARG(int64_t, max_steps) = 0;
  // Evaluated after every epoch (train::evaluate, batches of max(batch_size, 256)); null: none.
  WICK_ARG(std::shared_ptr<const data::Dataset>, test_set);
  // Rewritten after every epoch when not empty (write_metrics_csv).
  WICK_ARG(std::string, metrics_csv) = "";
  // Loss and accuracy curves written at the end when not empty (write_svg_plot); the caption is
  // plot_title followed by the number of steps.
  WICK_ARG(std::string, plot_svg) = "";
  WICK_ARG(std::string, plot_title) = "";
  // A progress bar per epoch ("epoch 1/2") ending with the epoch's figures; false: silent.
  WICK_ARG(bool, progress) = true;
};

// What on_step sees after each optimizer step.
struct StepInfo {
  int64_t step = 0;           // steps so far, this one included
  int64_t epoch = 0;          // from 1
  int64_t step_in_epoch = 0;  // from 1
  int64_t images = 0;         // in this batch
  double loss = 0;            // this batch's mean loss, before the step
  int64_t correct = 0;        // this batch's correct predictions, before the step
};

// Either may be empty. Returning false stops training: after a step, the epoch in progress ends
// there (it is still evaluated and recorded); after an epoch, no further epoch starts.
struct FitHooks {
  std::function<bool(const StepInfo&)> on_step;
  std::function<bool(const EpochMetrics&)> on_epoch_end;
};

struct FitResult {
  std::vector<EpochMetrics> epochs;  // one per epoch started
  int64_t steps = 0;
  double train_seconds = 0, img_per_s = 0;  // over the training steps of every epoch
  bool stopped_by_hook = false;  // a hook returned false
  Curves curves;  // about 20 training points per epoch, one test point per epoch
};

// Trains `model` on `train` (classification: cross-entropy on the logits, targets int64) with
// `optimizer`: per batch forward, loss, zero_grad, backward, step. The model is put in training
// mode at the start of every epoch and left so. Throws wick::Error for bad options, and when the loss is not
// finite (naming the step; no update is made with it).
FitResult fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& train,
              const FitOptions& options = FitOptions(), const FitHooks& hooks = FitHooks());

}  // namespace wick::train
