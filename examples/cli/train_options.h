// From the training-loop flags to train::fit: the validation hold-out and the FitOptions
// (check_training_args, in commands.h, has refused contradictory flags before).
#pragma once
#include "commands.h"

namespace wick::cli {

// With --val-split: replaces data.train by what is kept and sets data.validation to the seeded
// hold-out (data::hold_out from --seed).
void hold_out_validation(Data& data, const LoopArgs& args);

// The flags as train::FitOptions, testing on data.test and validating on data.validation.
train::FitOptions fit_options(const LoopArgs& args, const Data& data);

}  // namespace wick::cli
