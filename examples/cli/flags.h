// Flag checks and subcommand registration shared by the wick subcommands.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "common.h"

namespace wick::cli {

// Number checks with plain messages ("--epochs: must be a positive number, got 0"); CLI11's own
// PositiveNumber prints the range up to the largest double.
const CLI::Validator& positive_number();
const CLI::Validator& nonnegative_number();

// A subcommand that owns its flags: `add` registers it on the app, and `run` is called when it
// was chosen on the command line.
struct Subcommand {
  CLI::App* cmd = nullptr;
  std::function<int()> run;
};

// --data, --data-dir, --image-size and --channels, for a command that only needs the data's image
// shape and classes (wick models, wick export).
void add_data_shape_flags(CLI::App* cmd, DataArgs& data);

Subcommand add_bench(CLI::App& app);   // bench.cpp
Subcommand add_bn_lab(CLI::App& app);  // bn_lab.cpp
Subcommand add_models(CLI::App& app);  // models.cpp
Subcommand add_export(CLI::App& app);  // export.cpp

}  // namespace wick::cli
