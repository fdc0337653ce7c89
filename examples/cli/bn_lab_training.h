// What the bn-lab training experiments share (bn_lab_training.cpp, bn_lab_finetune.cpp,
// bn_lab_init.cpp, bn_lab_sync.cpp, bn_lab_precise.cpp, ...): a stopwatch, denormal flushing, the
// data and a deep MLP.
#pragma once
#include <chrono>

#include "bn_lab.h"

namespace wick::cli {

double seconds_since(std::chrono::steady_clock::time_point start);

// v with three significant digits ("%.3g"), for the experiments' prose.
std::string g3(double v);

// Denormal floats flushed to zero while it lives (set_flush_denormal), for the experiments that
// train at batch 2: BatchNorm over so few values sends back gradients near 1e-40, which x86 cores
// process several times slower (same results here to the last printed digit).
struct FlushDenormals {
  FlushDenormals() { set_flush_denormal(true); }
  ~FlushDenormals() { set_flush_denormal(false); }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;
};

// The lab's dataset (--data-dir; Fashion-MNIST) cut to its first train_images and test_images.
Data lab_data(const Lab& lab, int64_t train_images, int64_t test_images);

// For `data`'s images and classes: Flatten, then kHidden x [Linear(·, kWidth), norm, ReLU], then
// Linear to the classes; every hidden Linear drawn from He's normal init (std sqrt(2 / fan_in))
// times `scale`, biases 0. norm: BatchNorm1d, GroupNorm with 8 groups, LayerNorm, or nothing.
constexpr int64_t kHidden = 6, kWidth = 128;
nn::Sequential deep_mlp(const Data& data, double scale, nn::Norm norm);
// "an MLP of 6 hidden layers of 128": how the experiments' printouts name deep_mlp.
std::string deep_mlp_text();

}  // namespace wick::cli
