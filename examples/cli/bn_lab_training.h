// What the bn-lab training experiments share (bn_lab_training.cpp, bn_lab_finetune.cpp): one pass of
// optimizer steps over a loader, and a stopwatch.
#pragma once
#include <chrono>

#include "bn_lab.h"

namespace wick::cli {

// One epoch of `loader` in training mode: a cross-entropy optimizer step per batch.
void sgd_pass(nn::Module& model, optim::Optimizer& optimizer, data::DataLoader& loader);

double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace wick::cli
