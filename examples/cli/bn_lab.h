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
  std::string report;   // --report DIR: index.html of the experiments run ("" when not asked for)
  std::string weights;  // --weights FILE: the trained small-cnn fine-tune and fold start from
  bool json = false;  // end with one JSON line of every recorded number
  uint64_t seed = 0;
};

// One piece of an experiment's report, in the order it was printed.
struct LabBlock {
  enum Kind { Explain, Say, Verdict, Chart } kind;
  std::string text;   // the paragraph, line or verdict as printed; a chart's SVG document
  bool holds = true;  // Verdict only
};

// What an experiment reports through: prose, numbers (printed and kept for --json), charts, a
// verdict; all of it also kept in order for --report.
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
  // The experiment's picture, `columns` panels to a row (0: one row): written to --plot when
  // given, and kept for --report.
  void chart(const std::vector<train::Chart>& panels, size_t columns = 0);

  bool all_held() const { return all_held_; }
  const nlohmann::json& numbers() const { return numbers_; }
  const std::vector<LabBlock>& blocks() const { return blocks_; }

 private:
  const LabArgs& args_;
  nlohmann::json numbers_ = nlohmann::json::object();
  bool all_held_ = true;
  std::vector<LabBlock> blocks_;
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
void lab_init_scale(Lab& lab);
void lab_sync_bn(Lab& lab);
void lab_precise_bn(Lab& lab);
void lab_covariate_shift(Lab& lab);
void lab_inside(Lab& lab);
void lab_alternatives(Lab& lab);

const std::vector<Experiment>& lab_experiments();

// Writes DIR/index.html (bn_lab_report.cpp; DIR exists): every experiment run, with its explanation, printed
// lines, charts (inline SVG), verdict and numbers, in one file that needs nothing else.
void write_lab_report(const std::string& dir, const std::vector<std::pair<const Experiment*, const Lab*>>& runs);

}  // namespace wick::cli
