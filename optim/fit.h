// train::fit, the training loop as a building block: epochs of cross-entropy steps over a dataset
// with an optimizer, an optional learning-rate schedule, gradient clipping, label smoothing and
// augmentation, a progress bar, optional validation and test evaluations after each epoch (keeping
// the best weights), metrics CSVs, SVG curves, hooks that see every step and epoch and may stop
// the run, and checkpoints that a resumed run continues from exactly.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../data/dataset.h"
#include "../layers/module.h"
#include "../core/options.h"
#include "metrics.h"
#include "optimizer.h"
#include "schedule.h"

namespace wick::train {

// A flag a signal handler raises (FitOptions::stop_signal).
using StopSignal = const std::atomic<int>*;

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
  // The learning-rate recipe (optim::Schedule over `epochs` epochs of the loader's batches),
  // stepped after every optimizer step. The default leaves the lr alone.
  WICK_ARG(optim::ScheduleOptions, schedule);
  // Before every step, the gradients of all the optimizer's parameters are scaled to a total
  // 2-norm of at most this (optim::clip_grad_norm_); 0: no clipping.
  WICK_ARG(double, grad_clip) = 0;
  // Cross-entropy with PyTorch's label smoothing, in [0, 1): the training loss (and the loss that
  // is reported for training) is (1 - eps) nll + eps mean over classes of -log p. Evaluations use
  // plain cross-entropy.
  WICK_ARG(double, label_smoothing) = 0;
  // Random crops and flips of the training batches only (data::with_augmentation: `train` must be
  // an ImageDataset or a Subset of one), drawn from `seed` and the epoch.
  WICK_ARG(data::Augmentation, augmentation);
  // Evaluated after every epoch as test_set is (EpochMetrics::val_loss, val_acc); null: none.
  WICK_ARG(std::shared_ptr<const data::Dataset>, validation_set);
  // When not empty, after every epoch with a better validation accuracy than all before it (the
  // first of equals), the model's weights are written here (nn::save, atomically), with any
  // BatchNorm+ReLU pairs fused by nn::fuse_batchnorm_relu unfused. Needs validation_set.
  WICK_ARG(std::string, save_best) = "";
  // Rewritten after every epoch when not empty: one line per step (write_steps_csv).
  WICK_ARG(std::string, steps_csv) = "";
  // When not empty, checkpoints of the run are written here (optim/checkpoint.h): at the end of
  // every epoch, every checkpoint_every steps when that is not 0, and when stop_signal is raised;
  // the newest checkpoint_keep are kept.
  WICK_ARG(std::string, checkpoint_dir) = "";
  WICK_ARG(int64_t, checkpoint_every) = 0;
  WICK_ARG(int, checkpoint_keep) = 2;
  // Stored in every checkpoint's run.json as given (wick train keeps its flags there).
  WICK_ARG(std::string, checkpoint_settings) = "";
  // Continue the run from the newest checkpoint in checkpoint_dir (an error when there is none):
  // `model` and `optimizer` must be built as they were for it and the options that shape the run
  // (epochs, batch size, seed, schedule, data sizes, ...) must be the same (a difference is an
  // error naming it). The rest of the run is then the uninterrupted run's, to the bit, at any
  // thread count.
  WICK_ARG(bool, resume) = false;
  // Read after every step and epoch when not null: a nonzero value (a signal number, say) ends
  // the run there, after a checkpoint (needs checkpoint_dir); FitResult::interrupted holds it.
  WICK_ARG(StopSignal, stop_signal) = nullptr;
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
  Curves curves;  // about 20 training (and lr) points per epoch, one test (validation) point per epoch
  std::vector<StepInfo> step_log;  // every step, in order
  int64_t best_epoch = 0;  // the epoch whose weights save_best holds; 0: none saved
  int interrupted = 0;     // stop_signal's value when it ended the run early, else 0
  int64_t resumed_at = -1;     // the step the run was resumed after; -1: not resumed
  std::string last_checkpoint;  // the folder of the last checkpoint written or resumed from
  // On several processes: seconds spent waiting for gradient sums the backward did not hide
  // (DataParallel::wait_seconds); else 0.
  double wait_seconds = 0;
};

// Trains `model` on `train` (classification: cross-entropy on the logits, targets int64) with
// `optimizer`: per batch forward, loss, zero_grad, backward, (clip,) step, (schedule step). The model is put in training
// mode at the start of every epoch and left so. The global generator (dropout) is used as it stands
// (seed it with manual_seed first). Throws wick::Error for bad options, and when the loss is not
// finite (naming the step; no update is made with it).
//
// On several processes (dist::is_distributed(), every process calling fit alike) the run is
// data-parallel (train::DataParallel, docs/distributed.md): batch_size is the global batch, each
// process takes batch_size / P of every batch (an error when P does not divide it) through the
// loader's num_replicas/rank, and every step is one step on the whole batch. The step figures
// and evaluations are the whole batch's and set's (evaluations shared among the processes), the
// same on every process; only rank 0 prints progress and writes files (metrics, plot, save_best,
// checkpoints), and a resumed run needs the same number of processes. An exception on one
// process leaves the others waiting in their next collective: end the job (dist::abort_job).
FitResult fit(nn::Module& model, optim::Optimizer& optimizer, const data::Dataset& train,
              const FitOptions& options = FitOptions(), const FitHooks& hooks = FitHooks());

}  // namespace wick::train
