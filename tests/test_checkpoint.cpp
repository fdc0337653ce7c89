// Checkpoints of train::fit: a run cut anywhere and resumed from its last checkpoint ends with the
// uninterrupted run's bits (weights, buffers, every step's loss, every epoch's figures), at another
// thread count too; stop_signal; what the checkpoint folder keeps; what resume refuses.
#include <csignal>
#include <filesystem>
#include <fstream>

#include "helpers.h"

using namespace wick;
using test::error_of;
namespace fs = std::filesystem;

namespace {

// A checkpoint folder path, removed at scope exit.
struct TempDir : test::TempFile {
  TempDir() : test::TempFile("_checkpoints") {}
};

struct Crash {};  // what a hook throws to cut a run short without a checkpoint

// A run with everything that carries state across steps: BatchNorm (fused with its ReLU, as wick
// train runs it), dropout (the global generator), augmentation (the loader's seeds), shuffling,
// momentum, a warm-up then cosine schedule, validation with save_best, and a test set.
struct Run {
  std::shared_ptr<data::Synthetic> train = make(100, 1), val = make(30, 2), test = make(30, 3);
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::SGD> opt;
  test::TempFile best;

  static std::shared_ptr<data::Synthetic> make(int64_t n, uint64_t seed) {
    return std::make_shared<data::Synthetic>(n, data::SyntheticOptions().classes(3).height(8).width(8).seed(seed));
  }

  explicit Run(uint64_t seed) {
    manual_seed(seed);
    model = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                           nn::Dropout(0.3), nn::Flatten(), nn::Linear(4 * 8 * 8, 3))
                .ptr();
    nn::fuse_batchnorm_relu(*model);
    opt = std::make_unique<optim::SGD>(model->parameters(), optim::SGDOptions(0.05).momentum(0.9).nesterov(true));
  }

  train::FitOptions options(const std::string& dir) const {
    return train::FitOptions()
        .epochs(3)
        .batch_size(16)  // 7 steps per epoch, the last one short
        .seed(5)
        .schedule(optim::ScheduleOptions().kind(optim::ScheduleKind::Cosine).warmup_epochs(1))
        .augmentation(data::Augmentation().crop_padding(2).horizontal_flip(true))
        .validation_set(val)
        .test_set(test)
        .save_best(best.path)
        .checkpoint_dir(dir)
        .progress(false);
  }
};

std::vector<float> weights(const nn::Module& m) {
  std::vector<float> out;
  for (auto& [name, t] : nn::state_dict(m))
    if (t.dtype() == Dtype::Float32)
      for (float v : t.to_vector<float>()) out.push_back(v);
  return out;
}

void check_same(const train::FitResult& a, const train::FitResult& b) {
  REQUIRE(a.step_log.size() == b.step_log.size());
  for (size_t i = 0; i < a.step_log.size(); ++i) {
    CHECK(a.step_log[i].loss == b.step_log[i].loss);
    CHECK(a.step_log[i].lr == b.step_log[i].lr);
    CHECK(a.step_log[i].correct == b.step_log[i].correct);
  }
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (size_t i = 0; i < a.epochs.size(); ++i) {
    CHECK(a.epochs[i].train_loss == b.epochs[i].train_loss);
    CHECK(a.epochs[i].val_acc == b.epochs[i].val_acc);
    CHECK(a.epochs[i].test_loss == b.epochs[i].test_loss);
  }
  CHECK(a.best_epoch == b.best_epoch);
  CHECK(a.curves.train_loss.size() == b.curves.train_loss.size());
}

}  // namespace

TEST_CASE("fit resumed from its last checkpoint after a crash at any step ends with the uninterrupted run's bits") {
  TempDir ref_dir;
  Run ref(7);
  const train::FitResult expected = train::fit(*ref.model, *ref.opt, *ref.train, ref.options(ref_dir.path));
  REQUIRE(expected.steps == 21);
  const std::vector<float> expected_weights = weights(*ref.model);
  const int threads = get_num_threads();
  for (int64_t crash_at : {1, 3, 4, 7, 8, 12, 14, 20, 21}) {
    for (int64_t every : {0, 3}) {
      INFO("crash after step " << crash_at << ", checkpoint_every " << every);
      TempDir dir;
      {
        Run first(7);
        train::FitHooks hooks;
        hooks.on_step = [&](const train::StepInfo& s) -> bool {
          if (s.step == crash_at) throw Crash{};
          return true;
        };
        CHECK_THROWS_AS(train::fit(*first.model, *first.opt, *first.train,
                                   first.options(dir.path).checkpoint_every(every), hooks),
                        Crash);
      }
      const std::string last = train::latest_checkpoint(dir.path);
      if (last.empty()) continue;  // crashed before the first checkpoint: the run starts over
      const int64_t saved_at = train::read_checkpoint(last).state.steps;
      set_num_threads(threads == 1 ? 2 : 1);
      Run second(1234);  // another seed: the weights and the generator must come from the checkpoint
      train::FitResult r =
          train::fit(*second.model, *second.opt, *second.train, second.options(dir.path).checkpoint_every(every).resume(true));
      set_num_threads(threads);
      CHECK(r.resumed_at == saved_at);
      CHECK(r.resumed_at < crash_at);
      check_same(r, expected);
      CHECK(weights(*second.model) == expected_weights);
      CHECK(fs::exists(r.last_checkpoint + "/model.safetensors"));
    }
  }
}

TEST_CASE("fit stops on stop_signal with a checkpoint at that step, and resumes from it") {
  TempDir ref_dir, dir;
  Run ref(3);
  const train::FitResult expected = train::fit(*ref.model, *ref.opt, *ref.train, ref.options(ref_dir.path));
  std::atomic<int> signal{0};
  Run first(3);
  train::FitHooks hooks;
  hooks.on_step = [&](const train::StepInfo& s) {
    if (s.step == 10) signal = SIGTERM;
    return true;
  };
  train::FitResult cut = train::fit(*first.model, *first.opt, *first.train,
                                    first.options(dir.path).stop_signal(&signal), hooks);
  CHECK(cut.interrupted == SIGTERM);
  CHECK(cut.steps == 10);
  CHECK(cut.epochs.size() == 1);  // epoch 2 was cut at its 3rd step
  CHECK(fs::path(cut.last_checkpoint).filename() == "step-10");
  Run second(99);
  train::FitResult r = train::fit(*second.model, *second.opt, *second.train, second.options(dir.path).resume(true));
  CHECK(r.resumed_at == 10);
  check_same(r, expected);
  CHECK(weights(*second.model) == weights(*ref.model));
  // A finished run resumes to its end at once, with its figures.
  Run third(5);
  train::FitResult again = train::fit(*third.model, *third.opt, *third.train, third.options(dir.path).resume(true));
  CHECK(again.resumed_at == 21);
  check_same(again, expected);
  CHECK(weights(*third.model) == weights(*ref.model));
}

TEST_CASE("the checkpoint folder keeps the newest checkpoints and no temporaries, and never lists a partial one") {
  TempDir dir;
  fs::create_directories(dir.path);
  // What a writer killed mid-save leaves (its pid no longer exists), and junk that is no checkpoint.
  const std::string stale = dir.path + "/step-4.tmp.999999999";
  fs::create_directories(stale);
  std::ofstream(stale + "/run.json") << "{";
  fs::create_directories(dir.path + "/step-x");
  CHECK(train::latest_checkpoint(dir.path).empty());
  Run run(1);
  train::fit(*run.model, *run.opt, *run.train, run.options(dir.path).checkpoint_every(2).checkpoint_keep(3));
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"step-18", "step-20", "step-21", "step-x"});
  CHECK(train::latest_checkpoint(dir.path) == dir.path + "/step-21");
  // The model file is the architecture as built (unfused), loadable on its own.
  auto loaded = nn::load_module(dir.path + "/step-21/model.safetensors");
  CHECK(loaded->named_children()[2].second->type_name() == "ReLU");
}

TEST_CASE("resume refuses other options, a missing checkpoint and a damaged run.json, naming what is wrong") {
  TempDir dir, empty;
  Run run(1);
  train::fit(*run.model, *run.opt, *run.train, run.options(dir.path).max_steps(5));
  Run other(1);
  CHECK(error_of([&] {
          train::fit(*other.model, *other.opt, *other.train, other.options(dir.path).max_steps(5).batch_size(8).resume(true));
        }).find("it was run with batch_size = 16, this run has 8") != std::string::npos);
  CHECK(error_of([&] {
          train::fit(*other.model, *other.opt, *other.train, other.options(empty.path).resume(true));
        }).find("no checkpoint to resume from in " + empty.path) != std::string::npos);
  const std::string folder = train::latest_checkpoint(dir.path);
  const std::string run_json = folder + "/run.json";
  nlohmann::json original;
  std::ifstream(run_json) >> original;
  auto damaged = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json j = original;
    change(j);
    std::ofstream(run_json, std::ios::trunc) << j.dump();
    return error_of([&] { train::read_checkpoint(folder); });
  };
  CHECK(damaged([](nlohmann::json& j) { j["state"]["steps"] = 6; }).find("5 logged steps for a position after step 6") !=
        std::string::npos);
  CHECK(damaged([](nlohmann::json& j) { j["state"]["epoch"] = 1e300; }).find("\"epoch\" must be an integer from 1") !=
        std::string::npos);
  CHECK(damaged([](nlohmann::json& j) { j["state"]["total"]["correct"] = -1; }).find("\"correct\" must be an integer") !=
        std::string::npos);
  CHECK(damaged([](nlohmann::json& j) { j["state"]["step_log"][2] = {1, 2}; }).find("step_log[2]) must be [step,") !=
        std::string::npos);
  CHECK(damaged([](nlohmann::json& j) { j["format"] = "other"; }).find("not a wick checkpoint") != std::string::npos);
  CHECK(damaged([](nlohmann::json& j) { j["state"]["random_state"] = "1 2 3"; }) == "<no error>");  // read, refused at resume
  CHECK(error_of([&] {
          Run r(1);
          train::fit(*r.model, *r.opt, *r.train, r.options(dir.path).max_steps(5).resume(true));
        }).find("set_random_state: not a generator state") != std::string::npos);
  std::ofstream(run_json, std::ios::trunc) << "{\"format\": ";
  CHECK(error_of([&] { train::read_checkpoint(folder); }).find("run.json: not a JSON object") != std::string::npos);
}
