// wick bn-lab: the experiment list, the command's flags and the Lab reporting helpers.
#include "bn_lab.h"

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "flags.h"

namespace wick::cli {

namespace {

// Terminal columns of UTF-8 text (μ, σ², γ are one column each but two bytes).
size_t columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

namespace {

std::string vformat(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string text(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.pop_back();
  return text;
}

}  // namespace

void Lab::explain(const std::string& text) {
  blocks_.push_back({LabBlock::Explain, text});
  std::istringstream words(text);
  std::string word, line;
  while (words >> word) {
    if (!line.empty() && columns(line) + 1 + columns(word) > 100) {
      std::printf("%s\n", line.c_str());
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) std::printf("%s\n", line.c_str());
  std::printf("\n");
}

void Lab::say(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string line = vformat(format, args);
  va_end(args);
  std::printf("%s\n", line.c_str());
  blocks_.push_back({LabBlock::Say, line});
}

void Lab::record(const std::string& key, const nlohmann::json& value) {
  numbers_[nlohmann::json::json_pointer("/" + [&] {
    std::string path = key;
    for (char& c : path)
      if (c == '.') c = '/';
    return path;
  }())] = value;
}

void Lab::verdict(bool holds, const char* format, ...) {
  all_held_ = all_held_ && holds;
  va_list args;
  va_start(args, format);
  std::string text = vformat(format, args);
  va_end(args);
  std::printf("\nverdict: %s%s\n", holds ? "" : "NOT SHOWN: ", text.c_str());
  blocks_.push_back({LabBlock::Verdict, text, holds});
}

void Lab::chart(const std::vector<train::Chart>& panels, size_t columns) {
  blocks_.push_back({LabBlock::Chart, train::svg_charts(panels, columns)});
  if (args_.plot.empty()) return;
  train::write_svg_charts(args_.plot, panels, columns);
  say("wrote %s", args_.plot.c_str());
}

const std::vector<Experiment>& lab_experiments() {
  static const std::vector<Experiment> list = {
      {"modes", "the same batch through train and eval mode: the gap and where it comes from", lab_modes},
      {"running-stats", "running_mean/var converging to the data's statistics, for several momentums",
       lab_running_stats, true},
      {"momentum-convention", "PyTorch's momentum against Keras's; the seed formula that is reversed",
       lab_momentum_convention},
      {"batch-size", "eval output is independent of the batch, train output is not; batch of one",
       lab_batch_size},
      {"small-batch", "small-cnn trained with batch 2, 8 and 64: accuracy and noisy statistics",
       lab_small_batch, true},
      {"no-grad-trap", "no-grad does not stop the running statistics; eval or freezing does",
       lab_no_grad_trap},
      {"fine-tune", "a shifted domain: stale stats, BN trained, BN frozen, recalibration (AdaBN)",
       lab_fine_tune, true},
      {"fold", "BatchNorm folded into the conv before it: same outputs, no BN layers left", lab_fold, true},
      {"myths", "the seeds' false or misleading claims, each checked by running code", lab_myths},
      {"init-scale", "a deep MLP from 1/4 to 4 times He's init scale, with and without BN: which train",
       lab_init_scale, true},
      {"sync-bn", "4 processes x 4 images: BatchNorm per process against SyncBatchNorm (simulated)",
       lab_sync_bn, true},
      {"precise-bn", "running (EMA) statistics against statistics recomputed with the final weights",
       lab_precise_bn, true},
      {"covariate-shift", "BN's outputs shifted at random every step still train: not \"internal covariate shift\"",
       lab_covariate_shift, true},
      {"inside", "a deep MLP's activations, gradients and update:data ratios layer by layer, with and without BN",
       lab_inside, true},
      {"alternatives", "BatchNorm, GroupNorm, LayerNorm and none in one CNN at batch 2 to 128: where each wins",
       lab_alternatives, true},
  };
  return list;
}

Subcommand add_bn_lab(CLI::App& app) {
  struct State {
    LabArgs args;
    std::vector<std::string> names;
    bool list = false;
    int threads = 0;
  };
  auto state = std::make_shared<State>();
  Subcommand s;
  s.cmd = app.add_subcommand("bn-lab", "batch-normalization experiments for learners (see --list)");
  std::vector<std::string> names;
  for (const Experiment& e : lab_experiments()) names.emplace_back(e.name);
  s.cmd->add_option("experiment", state->names, "the experiment to run (see --list); with --report, any number")
      ->check(CLI::IsMember(names));
  s.cmd->add_flag("--list", state->list, "name and describe the experiments");
  s.cmd->add_option("--plot", state->args.plot, "write the experiment's picture to this SVG file");
  s.cmd->add_option("--report", state->args.report,
                    "write DIR/index.html: the experiments named (default: all) with their explanations, numbers, "
                    "charts and verdicts, one page that needs nothing else");
  s.cmd->add_option("--weights", state->args.weights,
                    "small-cnn weights for fine-tune and fold (default: pretrain one briefly)")
      ->check(CLI::ExistingFile);
  s.cmd->add_option("--threads", state->threads, "worker threads (0: all cores)")->check(nonnegative_number());
  s.cmd->add_option("--data-dir", state->args.data.data_dir,
                    "Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)");
  s.cmd->add_option("--seed", state->args.seed, "seeds initialization and shuffling")->capture_default_str();
  s.cmd->add_flag("--json", state->args.json, "end with one JSON line of every number measured");
  s.run = [state]() -> int {
    const bool report = !state->args.report.empty();
    if (state->list || (state->names.empty() && !report)) {
      for (const Experiment& e : lab_experiments()) std::printf("  %-20s %s\n", e.name, e.summary);
      if (!state->list) std::printf("run one with: wick bn-lab NAME\n");
      return 0;
    }
    auto usage = [](const std::string& what) {
      std::fprintf(stderr, "wick: %s (see wick bn-lab --help)\n", what.c_str());
      return 2;
    };
    if (state->names.size() > 1 && !report) return usage("name one experiment, or several with --report DIR");
    std::vector<const Experiment*> chosen;
    for (const std::string& name : state->names)
      for (const Experiment& e : lab_experiments())
        if (name == e.name) chosen.push_back(&e);  // CLI11 checked that the name exists
    if (chosen.empty())
      for (const Experiment& e : lab_experiments()) chosen.push_back(&e);
    if (!state->args.plot.empty()) {
      if (report) return usage("--plot and --report: the report holds the pictures");
      if (!chosen[0]->plots)
        return usage(std::string("--plot: bn-lab ") + chosen[0]->name +
                     " draws no picture (running-stats, small-batch, fine-tune and fold do)");
      check_output_path("--plot", state->args.plot);
    }
    if (report) {  // the folder is made now: a path that cannot hold the page fails before the experiments run
      std::error_code ec;
      std::filesystem::create_directories(state->args.report, ec);
      WICK_CHECK(!ec, "--report ", state->args.report, ": cannot create the folder (", ec.message(), ")");
      check_output_path("--report", state->args.report + "/index.html");
    }
    set_num_threads(state->threads);
    std::vector<std::unique_ptr<Lab>> labs;
    bool held = true;
    for (const Experiment* e : chosen) {
      labs.push_back(std::make_unique<Lab>(state->args));
      std::printf("%s== bn-lab %s: %s\n\n", labs.size() > 1 ? "\n" : "", e->name, e->summary);
      e->run(*labs.back());
      if (state->args.json) std::cout << labs.back()->numbers().dump() << std::endl;
      held = held && labs.back()->all_held();
    }
    if (report) {
      std::vector<std::pair<const Experiment*, const Lab*>> runs;
      for (size_t i = 0; i < chosen.size(); ++i) runs.emplace_back(chosen[i], labs[i].get());
      write_lab_report(state->args.report, runs);
      std::printf("\nwrote %s/index.html\n", state->args.report.c_str());
    }
    return held ? 0 : 1;
  };
  return s;
}

}  // namespace wick::cli
