// wick bn-lab: small experiments that show how BatchNorm behaves in training, fine-tuning and
// evaluation. Each experiment explains itself, prints what it measured and ends with a verdict.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.h"

namespace wick::cli {

struct LabArgs {
  DataArgs data;      // Fashion-MNIST by default, for the experiments that train
  std::string plot;     // --plot FILE.svg ("" when not asked for)
  std::string weights;  // --weights FILE: the trained small-cnn fine-tune and fold start from
  bool json = false;  // end with one JSON line of every recorded number
  uint64_t seed = 0;
};

// What an experiment reports through: prose, numbers (printed and kept for --json), a verdict.
class Lab {
 public:
  explicit Lab(const LabArgs& args) : args_(args) {}
  const LabArgs& args() const { return args_; }

  // A paragraph of explanation, wrapped at 100 columns.
  void explain(const std::string& text);
  // One printed line (printf-style).
  void say(const char* format, ...) __attribute__((format(printf, 2, 3)));
  // Records `value` under `key` for --json (keys may be dotted paths: "momentum.0.1.step_10").
  void record(const std::string& key, const nlohmann::json& value);
  // The one-line conclusion (printf-style). `holds` is false when the measurement contradicts
  // what the experiment demonstrates; the command then exits with status 1.
  void verdict(bool holds, const char* format, ...) __attribute__((format(printf, 3, 4)));

  bool all_held() const { return all_held_; }
  const nlohmann::json& numbers() const { return numbers_; }

 private:
  const LabArgs& args_;
  nlohmann::json numbers_ = nlohmann::json::object();
  bool all_held_ = true;
};

struct Experiment {
  const char* name;
  const char* summary;  // one line, shown by --list
  void (*run)(Lab&);
  bool plots = false;  // draws a picture with --plot
};

// The experiments, in the order --list shows them (bn_lab_basics.cpp, bn_lab_training.cpp).
void lab_modes(Lab& lab);
void lab_running_stats(Lab& lab);
void lab_momentum_convention(Lab& lab);
void lab_batch_size(Lab& lab);
void lab_small_batch(Lab& lab);
void lab_no_grad_trap(Lab& lab);
void lab_fine_tune(Lab& lab);
void lab_fold(Lab& lab);
void lab_myths(Lab& lab);

const std::vector<Experiment>& lab_experiments();

}  // namespace wick::cli
