// The wick subcommands' arguments and entry points (main.cpp parses flags into these).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.h"

namespace wick::cli {

struct CommonArgs {
  DataArgs data;
  std::string model = "small-cnn";
  std::string norm;  // empty: the model's default
  int threads = 0;  // 0: all cores
  bool json = false;
};

// The training loop's flags (train and finetune turn them into train::FitOptions). Optional
// values are those only some other flag's value makes meaningful (given alone: bad usage).
struct LoopArgs {
  int64_t epochs = 2, batch_size = 64, max_steps = 0;  // max_steps 0: no limit
  uint64_t seed = 0;
  bool shuffle = true, quiet = false;
  bool flush_denormal = false;  // set_flush_denormal for the run
  std::string metrics_csv, plot_svg, steps_csv;
  std::string scheduler = "none";  // none | step | multistep | cosine | onecycle
  std::optional<int64_t> step_size;
  std::vector<int64_t> milestones;
  std::optional<double> gamma;
  int64_t warmup_epochs = 0;
  std::vector<std::string> augment{"none"};  // crop, flip
  std::optional<int64_t> crop_padding;       // default 4 with crop
  double label_smoothing = 0, grad_clip = 0, val_split = 0;  // 0: off
  std::string save_best;
};

// wick train's checkpoints: --checkpoint-dir, --checkpoint-every, --resume.
struct CheckpointArgs {
  std::string dir;       // --checkpoint-dir, or --resume's folder
  int64_t every = 0;     // steps; 0: at the end of every epoch only
  std::string resume;    // --resume's folder
  std::string settings;  // the run's flags (run_settings), stored in every checkpoint
};

struct TrainArgs {
  CommonArgs common;
  LoopArgs loop;
  OptimArgs optim;
  std::string init, save;
  bool sync_bn = false;
  CheckpointArgs checkpoint;  // wick train only
};

struct FinetuneArgs {
  TrainArgs train;
  std::string weights;
  std::string bn = "train";  // train | frozen | recalibrate
  bool freeze_backbone = false;
  double backbone_lr = -1;  // < 0: lr / 10
  int64_t recalibrate_batches = 100;
};

struct EvalArgs {
  CommonArgs common;
  std::string weights;
  int64_t batch_size = 1000;
  bool confusion = false;
};

// Bad usage found after parsing (flags that contradict each other, values out of range): main
// reports it as it reports CLI11's parse errors, exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Throws a UsageError naming the flags (train_options.cpp).
void check_training_args(const TrainArgs& args);

int run_train(const TrainArgs& args);
int run_finetune(const FinetuneArgs& args);
int run_eval(const EvalArgs& args);
int run_inspect(const std::string& path, bool json);
int run_fold_bn(const std::string& in, const std::string& out, const std::string& model, bool json);
// Tensor-by-tensor max abs/rel differences of two safetensors files; throws (exit 1) when keys,
// dtypes or shapes differ or any element has |a - b| > atol + rtol |b|.
int run_compare(const std::string& a, const std::string& b, double rtol, double atol, bool per_tensor, bool json);

}  // namespace wick::cli
