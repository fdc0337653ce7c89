// wick bench: a zoo model (small-cnn by default) or an architecture file on Fashion-MNIST,
// measured as a user would run it: training images/s at batch 64 and 256, eval images/s at batch
// 256, batch-1 latency, and the process's peak RSS.
#include "bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "flags.h"

namespace wick::cli {
namespace {

enum class Kind { Training, Eval, Latency };

struct Workload {
  std::string name;
  std::string what;
  Kind kind;
  int64_t batch;          // images per step (1 for latency: a step is one forward)
  int64_t default_steps;  // per repeat
  int64_t default_warmup;
};

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> list = {
      {"train64", "training img/s, batch 64", Kind::Training, 64, 20, 5},
      {"train256", "training img/s, batch 256", Kind::Training, 256, 5, 3},
      {"eval256", "eval img/s, batch 256", Kind::Eval, 256, 5, 3},
      {"latency", "batch-1 eval latency, ms", Kind::Latency, 1, 200, 50},
  };
  return list;
}

// "train:N" or "eval:N" (N a positive batch size): a training or eval workload at batch N, its
// steps enough for about 1,280 images a repeat (as train64's and eval256's), 3 warm-up steps.
std::optional<Workload> sized_workload(const std::string& spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string kind = spec.substr(0, colon), digits = spec.substr(colon + 1);
  if ((kind != "train" && kind != "eval") || digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int64_t batch = std::stoll(digits);
  if (batch < 1) return std::nullopt;
  const bool train = kind == "train";
  return Workload{spec, std::string(train ? "training" : "eval") + " img/s, batch " + digits,
                  train ? Kind::Training : Kind::Eval, batch, std::max<int64_t>(1, (1280 + batch - 1) / batch), 3};
}

// What --only asks for, in the order given (every workload by default).
std::vector<Workload> chosen_workloads(const BenchArgs& a) {
  if (a.only.empty()) return workloads();
  std::vector<Workload> out;
  for (const std::string& name : a.only) {
    for (const Workload& w : workloads())
      if (w.name == name) out.push_back(w);
    if (auto w = sized_workload(name)) out.push_back(*w);
  }
  return out;
}

struct Plan {
  int64_t steps, repeats, warmup;
};

Plan plan_for(const Workload& w, const BenchArgs& a) {
  return {a.steps > 0 ? a.steps : w.default_steps, a.repeats, a.warmup >= 0 ? a.warmup : w.default_warmup};
}

// Runs the warm-up steps, then returns the images/s of each timed repeat. `step` returns the
// images it processed.
std::vector<double> repeat_rates(const Plan& p, const std::function<int64_t()>& step) {
  for (int64_t i = 0; i < p.warmup; ++i) step();
  std::vector<double> rates;
  for (int64_t r = 0; r < p.repeats; ++r) {
    int64_t images = 0;
    auto start = Clock::now();
    for (int64_t i = 0; i < p.steps; ++i) images += step();
    rates.push_back(static_cast<double>(images) / seconds_since(start));
  }
  return rates;
}

// Training images/s of each repeat: forward, cross-entropy, zero_grad, backward, SGD step, with the
// loader's batches (its wait included).
std::vector<double> measure_training(const BenchArgs& a, const Data& data, int64_t batch, const Plan& p) {
  TrainSetup s(a, data, batch);
  return repeat_rates(p, [&] {
    data::Batch& b = s.next_batch();
    Tensor loss = cross_entropy(s.model().forward(b.data), b.target);
    s.optimizer().zero_grad();
    loss.backward();
    s.optimizer().step();
    WICK_CHECK(std::isfinite(loss.item<double>()), "bench: training diverged (the loss is not finite)");
    return b.size();
  });
}

// bench_model as wick eval runs it (inference_model; in eval mode as built with --no-fuse)
// for the eval and latency workloads. Its BatchNorm running statistics keep their initial values
// (mean 0, variance 1): the arithmetic is a trained model's.
std::shared_ptr<nn::Module> eval_model(const BenchArgs& a, const Data& data) {
  std::shared_ptr<nn::Module> model = bench_model(a, data);
  if (!a.no_fuse) return inference_model(*model, data);
  model->eval();
  return model;
}

// Eval images/s of each repeat: eval mode, no graph, forward passes over the test split in order.
std::vector<double> measure_eval(const BenchArgs& a, const Data& data, int64_t batch, const Plan& p) {
  auto model = eval_model(a, data);
  NoGradGuard no_grad;
  data::DataLoader loader(data.test, data::DataLoaderOptions(batch));
  auto it = loader.begin();
  return repeat_rates(p, [&] {
    if (it == loader.end()) it = loader.begin();
    Tensor logits = model->forward(it->data);
    int64_t n = it->size();
    ++it;
    return n;
  });
}

// Milliseconds of every single-image eval forward (test images in turn, prepared beforehand).
std::vector<double> measure_latency(const BenchArgs& a, const Data& data, const Plan& p) {
  auto model = eval_model(a, data);
  NoGradGuard no_grad;
  std::vector<Tensor> images;
  for (int64_t i = 0; i < std::min<int64_t>(100, data.test->size()); ++i)
    images.push_back(data.test->get_batch({i}).data);
  int64_t k = 0;
  auto forward_ms = [&] {
    const Tensor& x = images[static_cast<size_t>(k++) % images.size()];
    auto start = Clock::now();
    Tensor logits = model->forward(x);
    return 1e3 * seconds_since(start);
  };
  for (int64_t i = 0; i < p.warmup; ++i) forward_ms();
  std::vector<double> ms;
  for (int64_t i = 0; i < p.steps * p.repeats; ++i) ms.push_back(forward_ms());
  return ms;
}

int run_bench(const BenchArgs& a) {
  set_num_threads(a.threads);
  // An untrained model's BatchNorm warns in eval mode that its running statistics never saw a batch.
  set_warning_handler([](const std::string&) {});
  bool any_training = a.profile;
  const std::vector<Workload> chosen = chosen_workloads(a);
  for (const Workload& w : chosen) any_training = any_training || w.kind == Kind::Training;
  DataArgs d;
  d.data_dir = a.data_dir;
  auto load_start = Clock::now();
  Data data = load_data(d, any_training);
  double load_s = seconds_since(load_start);
  if (a.profile) return run_profile(a, data);

  std::printf("wick bench: %s%s%s on Fashion-MNIST, %d thread%s (SGD lr 0.05 momentum 0.9, cross-entropy)\n",
              a.model.c_str(), a.norm.empty() ? "" : (" --norm " + a.norm).c_str(),
              a.no_fuse ? ", no fusion passes" : "", get_num_threads(), get_num_threads() == 1 ? "" : "s");
  std::printf("data loaded in %.2f s (%s%lld test images)\n\n", load_s,
              any_training ? (std::to_string(data.train->size()) + " training, ").c_str() : "",
              static_cast<long long>(data.test->size()));
  std::printf("%-9s %-27s %10s %10s %10s  %s\n", "workload", "measure", "median", "min", "max", "runs");
  nlohmann::json out{{"threads", get_num_threads()}, {"model", a.model}, {"norm", a.norm}, {"data", "fashion-mnist"},
                     {"data_load_s", load_s}, {"fused", !a.no_fuse}};
  for (const Workload& w : chosen) {
    Plan p = plan_for(w, a);
    nlohmann::json j{{"steps", p.steps}, {"repeats", p.repeats}, {"warmup", p.warmup}, {"batch", w.batch}};
    char runs[96];
    if (w.kind == Kind::Latency) {
      std::vector<double> ms = measure_latency(a, data, p);
      Summary s = summarize(ms);
      double p99 = percentile(ms, 99);
      std::snprintf(runs, sizeof runs, "%lld forwards, p99 %.3f ms", static_cast<long long>(ms.size()), p99);
      std::printf("%-9s %-27s %10.3f %10.3f %10.3f  %s\n", w.name.c_str(), w.what.c_str(), s.median, s.min, s.max,
                  runs);
      j.update({{"median_ms", s.median}, {"p99_ms", p99}, {"min_ms", s.min}, {"max_ms", s.max}});
    } else {
      Summary s = summarize(w.kind == Kind::Eval ? measure_eval(a, data, w.batch, p) : measure_training(a, data, w.batch, p));
      std::snprintf(runs, sizeof runs, "%lld x %lld steps", static_cast<long long>(p.repeats),
                    static_cast<long long>(p.steps));
      std::printf("%-9s %-27s %10.1f %10.1f %10.1f  %s\n", w.name.c_str(), w.what.c_str(), s.median, s.min, s.max,
                  runs);
      j.update({{"img_per_s", s.median}, {"img_per_s_min", s.min}, {"img_per_s_max", s.max}});
    }
    std::fflush(stdout);
    out[w.name] = j;
  }
  double rss = peak_rss_mib();
  out["peak_rss_mib"] = rss;
  const BufferStats buffers = buffer_stats();
  out["peak_tensor_buffers_mib"] = static_cast<double>(buffers.peak_in_use) / (1 << 20);
  std::printf("\npeak RSS: %.1f MiB (getrusage ru_maxrss: the peak of this whole process, data loading and every\n"
              "workload above; run one --only workload per process for a per-workload figure)\n"
              "of which large tensor buffers: at most %.1f MiB in use at once (core/allocator.h)\n",
              rss, static_cast<double>(buffers.peak_in_use) / (1 << 20));
  if (a.json) std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

Summary summarize(std::vector<double> values) {
  WICK_CHECK(!values.empty(), "bench: no measurements to summarize");
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  return {median, values.front(), values.back()};
}

double percentile(std::vector<double> values, double p) {
  WICK_CHECK(!values.empty(), "bench: no measurements for a percentile");
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::shared_ptr<nn::Module> bench_model(const BenchArgs& a, const Data& data) {
  manual_seed(0);
  return make_or_load_model("", a.model, a.norm, data);
}

TrainSetup::TrainSetup(const BenchArgs& a, const Data& data, int64_t batch_size)
    : loader_(data.train, data::DataLoaderOptions(batch_size).shuffle(true).seed(0)) {
  model_ = bench_model(a, data);
  if (!a.no_fuse) nn::fuse_batchnorm_relu(*model_);  // as wick train does
  model_->train();
  optimizer_ = make_optimizer(OptimArgs{}, {optim::ParamGroup(model_->parameters())}, {});
}

data::Batch& TrainSetup::next_batch() {
  if (started_) ++it_;
  if (!started_ || it_ == loader_.end()) it_ = loader_.begin();
  started_ = true;
  return *it_;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

Subcommand add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  Subcommand s;
  s.cmd = app.add_subcommand("bench", "benchmark a zoo model or architecture file on Fashion-MNIST: training, eval, latency, memory");

  s.cmd->add_option("--model", args->model,
                    "the zoo model to measure (see wick models), or FILE.json (an architecture file, as wick train "
                    "takes)")
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            const auto& names = nn::model_names();
            if (std::find(names.begin(), names.end(), name) != names.end() || name.ends_with(".json")) return "";
            return name + " is not a zoo model (see wick models) or a FILE.json";
          },
          "MODEL"))
      ->capture_default_str();
  s.cmd->add_option("--norm", args->norm, "its normalization: batch | group | layer | none (default: the model's own)")
      ->check(CLI::IsMember({"batch", "group", "layer", "none"}));
  s.cmd->add_option("--threads", args->threads, "worker threads (0: all cores)")->check(nonnegative_number());
  CLI::Option* only =
      s.cmd->add_option("--only", args->only,
                        "run only these workloads (comma-separated): train64, train256, eval256, latency, and "
                        "train:N or eval:N for any batch size N")
          ->delimiter(',')
          ->check(CLI::Validator(
              [](std::string& name) -> std::string {
                for (const Workload& w : workloads())
                  if (w.name == name) return "";
                if (sized_workload(name)) return "";
                return "not a workload: " + name + " (train64, train256, eval256, latency, train:N, eval:N)";
              },
              "WORKLOAD"));
  s.cmd->add_option("--steps", args->steps,
                    "steps per repeat (default: train64 20, train256 5, eval256 5; latency counts single-image "
                    "forwards, default 200; --profile takes medians over steps x repeats, default 20 x 5)")
      ->check(positive_number());
  s.cmd->add_option("--repeats", args->repeats, "timed repeats; the table shows their median, min and max")
      ->check(positive_number())
      ->capture_default_str();
  s.cmd->add_option("--warmup", args->warmup, "untimed steps first (default: train64 and --profile 5, train256 and eval256 3, latency 50)")
      ->check(nonnegative_number());
  s.cmd->add_flag("--profile", args->profile,
                  "instead of the workloads, time each layer's forward and backward in training steps "
                  "(GFLOP/s against the measured FMA peak, or the sgemm peak without AVX-512)")
      ->excludes(only);
  s.cmd->add_option("--profile-batch", args->profile_batch, "batch size of the --profile steps")
      ->check(positive_number())
      ->capture_default_str();
  s.cmd->add_flag("--no-fuse", args->no_fuse,
                  "run the model as built, without what wick train and wick eval apply (fuse_batchnorm_relu "
                  "in training; trace_for_inference in eval, with its fusions and chunked batches): what a "
                  "training or eval loop of your own gets unless it calls them");
  s.cmd->add_option("--data-dir", args->data_dir, "Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)");
  s.cmd->add_flag("--json", args->json, "end with one JSON line of every figure");
  s.cmd->footer(
      "Each workload builds its own model (seed 0). Training: SGD lr 0.05 momentum 0.9, cross-entropy,\n"
      "shuffled batches from the DataLoader (its wait counts, as in real training). Throughput rows are the\n"
      "median, min and max over the repeats; latency is over every single-image forward (p99 by nearest rank).\n"
      "bench/compare_pytorch.py runs the same workloads in PyTorch, one process per workload.");
  s.run = [args] { return run_bench(*args); };
  return s;
}

}  // namespace wick::cli
