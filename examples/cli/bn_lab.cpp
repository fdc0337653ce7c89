// wick bn-lab: the experiment list, the command's flags and the Lab reporting helpers.
#include "bn_lab.h"

#include <cstdarg>
#include <cstdio>
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

void Lab::explain(const std::string& text) {
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
  std::vprintf(format, args);
  va_end(args);
  std::printf("\n");
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
  std::printf("\nverdict: %s", holds ? "" : "NOT SHOWN: ");
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::printf("\n");
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
  };
  return list;
}

Subcommand add_bn_lab(CLI::App& app) {
  struct State {
    LabArgs args;
    std::string name;
    bool list = false;
    int threads = 0;
  };
  auto state = std::make_shared<State>();
  Subcommand s;
  s.cmd = app.add_subcommand("bn-lab", "batch-normalization experiments for learners (see --list)");
  std::vector<std::string> names;
  for (const Experiment& e : lab_experiments()) names.emplace_back(e.name);
  s.cmd->add_option("experiment", state->name, "the experiment to run (see --list)")->check(CLI::IsMember(names));
  s.cmd->add_flag("--list", state->list, "name and describe the experiments");
  s.cmd->add_option("--plot", state->args.plot, "write the experiment's picture to this SVG file");
  s.cmd->add_option("--weights", state->args.weights,
                    "small-cnn weights for fine-tune and fold (default: pretrain one briefly)")
      ->check(CLI::ExistingFile);
  s.cmd->add_option("--threads", state->threads, "worker threads (0: all cores)")->check(nonnegative_number());
  s.cmd->add_option("--data-dir", state->args.data.data_dir,
                    "Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)");
  s.cmd->add_option("--seed", state->args.seed, "seeds initialization and shuffling")->capture_default_str();
  s.cmd->add_flag("--json", state->args.json, "end with one JSON line of every number measured");
  s.run = [state]() -> int {
    if (state->list || state->name.empty()) {
      for (const Experiment& e : lab_experiments()) std::printf("  %-20s %s\n", e.name, e.summary);
      if (!state->list) std::printf("run one with: wick bn-lab NAME\n");
      return 0;
    }
    const Experiment* chosen = nullptr;
    for (const Experiment& e : lab_experiments())
      if (state->name == e.name) chosen = &e;  // CLI11 checked that the name exists
    if (!state->args.plot.empty()) {
      if (!chosen->plots) {
        std::fprintf(stderr, "wick: --plot: bn-lab %s draws no picture (running-stats, small-batch, fine-tune and fold do)\n",
                     chosen->name);
        return 2;
      }
      check_output_path("--plot", state->args.plot);
    }
    set_num_threads(state->threads);
    Lab lab(state->args);
    std::printf("== bn-lab %s: %s\n\n", chosen->name, chosen->summary);
    chosen->run(lab);
    if (state->args.json) std::cout << lab.numbers().dump() << std::endl;
    return lab.all_held() ? 0 : 1;
  };
  return s;
}

}  // namespace wick::cli
