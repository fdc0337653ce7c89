// wick bench: the flags and helpers shared by the workloads (bench.cpp) and the per-layer profile
// of a training step (bench_profile.cpp).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace wick::cli {

struct BenchArgs {
  std::string model = "small-cnn";  // a zoo model, or FILE.json (an architecture file)
  std::string norm;                 // empty: the model's default
  int threads = 0;                 // 0: all cores
  std::vector<std::string> only;   // workload names; empty: all of them
  int64_t steps = 0;               // per repeat; 0: the workload's default
  int64_t repeats = 5;
  int64_t warmup = -1;             // -1: the workload's default
  bool profile = false;            // profile a training step instead of running the workloads
  int64_t profile_batch = 64;
  bool no_fuse = false;            // run the model as built: no fusion pass (as a user's own loop)
  bool json = false;
  std::string data_dir;
};

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median, smallest and largest of some measurements (at least one).
struct Summary {
  double median = 0, min = 0, max = 0;
};
Summary summarize(std::vector<double> values);
// The p-th percentile (0 < p <= 100) by nearest rank: the smallest value with at least p% of the
// values at or below it.
double percentile(std::vector<double> values, double p);

// The model --model names (a zoo model with --norm, or an architecture file) for the data,
// initialized from seed 0.
std::shared_ptr<nn::Module> bench_model(const BenchArgs& args, const Data& data);

// What a training measurement runs, set up as `wick train` does: bench_model with each BatchNorm
// + ReLU fused (unless --no-fuse), SGD lr 0.05 momentum 0.9, and a shuffled (seed 0), prefetching DataLoader over the
// training split.
class TrainSetup {
 public:
  TrainSetup(const BenchArgs& args, const Data& data, int64_t batch_size);
  nn::Module& model() { return *model_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  // The loader's next batch, starting a new epoch when one ends (as a long training run would).
  data::Batch& next_batch();

 private:
  std::shared_ptr<nn::Module> model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  data::DataLoader loader_;
  data::DataLoader::Iterator it_;
  bool started_ = false;
};

// The process's peak resident set size so far (getrusage ru_maxrss), in MiB.
double peak_rss_mib();

// --profile: times each layer's forward and backward over training steps, prints the table (and
// the JSON line with --json).
int run_profile(const BenchArgs& args, const Data& data);

}  // namespace wick::cli
