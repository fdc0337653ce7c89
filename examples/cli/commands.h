// The wick subcommands' arguments and entry points (main.cpp parses flags into these).
#pragma once
#include <string>

#include "common.h"

namespace wick::cli {

struct CommonArgs {
  DataArgs data;
  std::string model = "small-cnn";
  std::string norm;  // empty: the model's default
  int threads = 0;  // 0: all cores
  bool json = false;
};

// The training loop's flags (train and finetune turn them into train::FitOptions).
struct LoopArgs {
  int64_t epochs = 2, batch_size = 64, max_steps = 0;  // max_steps 0: no limit
  uint64_t seed = 0;
  bool shuffle = true, quiet = false;
  std::string metrics_csv, plot_svg;
};

struct TrainArgs {
  CommonArgs common;
  LoopArgs loop;
  OptimArgs optim;
  std::string init, save;
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

int run_train(const TrainArgs& args);
int run_finetune(const FinetuneArgs& args);
int run_eval(const EvalArgs& args);
int run_inspect(const std::string& path, bool json);
int run_fold_bn(const std::string& in, const std::string& out, const std::string& model, bool json);
// Tensor-by-tensor max abs/rel differences of two safetensors files; throws (exit 1) when keys,
// dtypes or shapes differ or any element has |a - b| > atol + rtol |b|.
int run_compare(const std::string& a, const std::string& b, double rtol, double atol, bool json);

}  // namespace wick::cli
