// What the bn-lab training experiments share (bn_lab_training.cpp, bn_lab_finetune.cpp): a
// stopwatch. Their training runs are train::fit's.
#pragma once
#include <chrono>

#include "bn_lab.h"

namespace wick::cli {

double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace wick::cli
