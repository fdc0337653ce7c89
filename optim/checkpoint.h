// Checkpoints of a training run, as train::fit writes and resumes them. A checkpoint is a folder
// DIR/step-<steps>/ written atomically (it appears complete or not at all) holding
//   model.safetensors      the model as built (nn::save: weights, buffers, BatchNorm modes, its
//                          architecture when every module is registered)
//   optimizer.safetensors  Optimizer::save_state (per-parameter buffers and step counts, every
//                          group's hyperparameters, the lr a schedule has reached included)
//   run.json               everything else the rest of the run depends on: the position in the run,
//                          the global generator's state, the figures so far, the options that
//                          shape the run (checked on resume) and the caller's settings.
// The data order and augmentation need no state of their own: the DataLoader draws epoch e's from
// (seed, e), so the position (epoch, step in the epoch) fixes them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../layers/module.h"
#include "metrics.h"
#include "optimizer.h"

namespace wick::train {

// Loss and correct predictions summed over the images of some steps.
struct Tally {
  double loss = 0;
  int64_t correct = 0, images = 0;
  void add(const StepInfo& s);
  double mean_loss() const;
  double accuracy() const;
};

// Where a run stands between two steps: with the model and the optimizer, what it needs to go on
// exactly as the uninterrupted run would.
struct RunState {
  int64_t epoch = 1;     // the epoch in progress, from 1
  int64_t in_epoch = 0;  // its steps done (0: it has not started)
  int64_t steps = 0;     // optimizer steps since the start
  bool stop = false;     // no further step or epoch: max_steps was reached or a hook said so
  Tally total, window;   // this epoch so far, and since its last curve point
  double epoch_seconds = 0;  // training time of this epoch so far
  int64_t trained_images = 0;
  double train_seconds = 0;  // over the finished epochs
  double best_val_acc = -1;
  int64_t best_epoch = 0;
  std::vector<EpochMetrics> epochs;  // the finished ones
  std::vector<StepInfo> step_log;
  Curves curves;
  std::string random_state;  // the global generator (wick::random_state)
};

// A checkpoint's run.json besides the state: `options` is a JSON object of what shapes the run
// (fit compares it key by key on resume), `settings` is the caller's, stored as given (wick train
// keeps its flags there).
struct CheckpointInfo {
  std::string folder;  // DIR/step-<steps>
  std::string options, settings;
  RunState state;
};

// nn::save of the model as it was built: BatchNorm+ReLU pairs fused by nn::fuse_batchnorm_relu
// are saved unfused (fit fuses them for speed; the architecture a user reads back is theirs).
void save_as_built(const nn::Module& model, const std::string& path);

// Writes DIR/step-<state.steps> (creating DIR if needed), then removes all but the newest `keep`
// checkpoints of DIR and any temporaries a killed writer left. A checkpoint of that step that
// exists already is left as it is (resuming and stopping again before a step). Throws wick::Error.
void write_checkpoint(const std::string& dir, const nn::Module& model, const optim::Optimizer& optimizer,
                      const RunState& state, const std::string& options, const std::string& settings, int keep = 2);

// The newest complete checkpoint folder in `dir`; "" when there is none (or no such folder).
std::string latest_checkpoint(const std::string& dir);

// Reads and checks `folder`'s run.json. Throws wick::Error naming the file and the problem.
CheckpointInfo read_checkpoint(const std::string& folder);

// Loads the checkpoint's model (strict keys, dtypes and shapes; BatchNorm modes) and optimizer
// state into `model` and `optimizer`, which must be built as they were for the checkpointed run.
void load_checkpoint(const std::string& folder, nn::Module& model, optim::Optimizer& optimizer);

}  // namespace wick::train
