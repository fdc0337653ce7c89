// From the training-loop flags to train::fit: the validation hold-out and the FitOptions
// (check_training_args, in commands.h, has refused contradictory flags before).
#pragma once
#include <CLI/CLI.hpp>

#include "commands.h"

namespace wick::cli {

// With --val-split: replaces data.train by what is kept and sets data.validation to the seeded
// hold-out (data::hold_out from --seed).
void hold_out_validation(Data& data, const LoopArgs& args);

// The flags as train::FitOptions, testing on data.test and validating on data.validation.
train::FitOptions fit_options(const LoopArgs& args, const Data& data);

// Adds --checkpoint-dir, --checkpoint-every and --resume to `cmd` (wick train).
void add_checkpoint_flags(CLI::App* cmd, CheckpointArgs& args);

// After parsing wick train: records the run's flags in args.checkpoint.settings (as a JSON
// object of flag -> values), and with --resume DIR restores the flags of the run checkpointed in
// DIR. Flags given again must have the run's values, except --threads, --quiet, --json and
// --checkpoint-every (UsageError naming the flag and both values).
void resolve_run_settings(CLI::App* cmd, TrainArgs& args);

}  // namespace wick::cli
