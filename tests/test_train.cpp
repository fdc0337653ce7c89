// The training toolkit: nn::ModeGuard, train::count_correct and train::evaluate against direct
// computations, modes restored when forward throws, train::fit's steps, hooks, divergence error,
// metrics CSV and curves.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <sstream>

#include "helpers.h"

using namespace wick;
namespace fs = std::filesystem;

namespace {

// A layer whose forward always fails, to see what evaluate leaves behind.
class ThrowingImpl : public nn::Module {
 public:
  std::string type_name() const override { return "Throwing"; }
  Tensor forward(const Tensor&) override { detail::fail("Throwing: forward fails on purpose"); }
};

using test::error_of;

// n points in 2-D, three well-separated classes (sample i has class i % 3), from `seed`.
std::shared_ptr<data::TensorDataset> blobs(int64_t n, uint64_t seed) {
  manual_seed(seed);
  std::vector<float> noise = randn({n, 2}).to_vector<float>(), points;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = i % 3;
    double angle = 2.0 * std::numbers::pi * static_cast<double>(k) / 3.0;
    points.push_back(static_cast<float>(3.0 * std::cos(angle)) + 0.5f * noise[2 * i]);
    points.push_back(static_cast<float>(3.0 * std::sin(angle)) + 0.5f * noise[2 * i + 1]);
    labels.push_back(k);
  }
  return std::make_shared<data::TensorDataset>(from_vector(points, {n, 2}), from_vector(labels));
}

// Every module's training flag, in named_modules() order.
std::vector<bool> flags(nn::Module& model) {
  std::vector<bool> out;
  for (auto& [name, m] : model.named_modules()) out.push_back(m->is_training());
  return out;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("wick_train_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_CASE("ModeGuard restores training flags, BatchNorm modes and momentum, also on an exception") {
  nn::Sequential model(nn::Linear(2, 4), nn::BatchNorm1d(4), nn::Dropout(0.5), nn::Linear(4, 4), nn::BatchNorm1d(4));
  auto bn1 = model->at<nn::BatchNorm1dImpl>(1), bn2 = model->at<nn::BatchNorm1dImpl>(4);
  model->train();
  model->at<nn::DropoutImpl>(2)->eval();  // mixed flags: each must come back as it was
  bn1->set_mode(nn::BatchNormMode::Frozen);
  bn2->set_mode(nn::BatchNormMode::BatchStats);
  bn2->options.momentum(0.3);
  const std::vector<bool> before = flags(*model);
  REQUIRE(before == std::vector<bool>{true, true, true, false, true, true});
  {
    nn::ModeGuard guard(*model, /*training=*/false);
    CHECK(flags(*model) == std::vector<bool>(6, false));
    model->train();
    bn1->set_mode(nn::BatchNormMode::Auto);
    bn2->options.momentum(std::nullopt);
  }
  CHECK(flags(*model) == before);
  CHECK(bn1->mode() == nn::BatchNormMode::Frozen);
  CHECK_FALSE(bn1->weight.requires_grad());  // frozen again: no gradient for γ
  CHECK(bn2->mode() == nn::BatchNormMode::BatchStats);
  CHECK(bn2->options.momentum() == std::optional<double>(0.3));

  try {
    nn::ModeGuard guard(*model);  // remembers only
    CHECK(flags(*model) == before);
    model->eval();
    bn2->set_mode(nn::BatchNormMode::Auto);
    detail::fail("leaving the scope by an exception");
  } catch (const Error&) {
  }
  CHECK(flags(*model) == before);
  CHECK(bn2->mode() == nn::BatchNormMode::BatchStats);
}

TEST_CASE("count_correct counts argmax hits and fills the confusion matrix") {
  Tensor logits = from_vector(std::vector<float>{2, 1, 0,  //
                                                 0, 1, 5,  //
                                                 3, 3, 0,  // a tie: the first largest (0) wins
                                                 0, 9, 1},
                              {4, 3});
  Tensor target = from_vector(std::vector<int64_t>{0, 1, 0, 1});
  CHECK(train::count_correct(logits, target) == 3);
  train::ConfusionMatrix confusion(3, std::vector<int64_t>(3, 0));
  CHECK(train::count_correct(logits, target, &confusion) == 3);
  CHECK(confusion == train::ConfusionMatrix{{2, 0, 0}, {0, 1, 1}, {0, 0, 0}});
  CHECK(error_of([&] { train::count_correct(logits, target.narrow(0, 0, 3)); }).find("count_correct") == 0);
  CHECK(error_of([&] { train::count_correct(logits, zeros({4})); }).find("int64") != std::string::npos);
  train::ConfusionMatrix small(2, std::vector<int64_t>(2, 0));
  CHECK(error_of([&] { train::count_correct(logits, target, &small); }).find("3 x 3") != std::string::npos);
}

TEST_CASE("evaluate's loss, accuracy and confusion matrix equal a direct computation") {
  auto set = blobs(30, 1);
  manual_seed(2);
  nn::Sequential model(nn::Linear(2, 8), nn::ReLU(), nn::Linear(8, 3));  // untrained: some mistakes
  // batches of 7: the last one holds 2 images
  train::EvalResult r = train::evaluate(*model, *set, train::EvalOptions(7).confusion(true));

  data::Batch all = set->get_batch([] {
    std::vector<int64_t> i(30);
    for (int64_t k = 0; k < 30; ++k) i[k] = k;
    return i;
  }());
  NoGradGuard no_grad;
  Tensor logits = model->forward(all.data);
  std::vector<float> l = logits.to_vector<float>();
  std::vector<int64_t> truth = all.target.to_vector<int64_t>();
  double loss = 0;
  int64_t correct = 0;
  train::ConfusionMatrix confusion(3, std::vector<int64_t>(3, 0));
  for (int64_t i = 0; i < 30; ++i) {
    const float* row = &l[3 * i];
    int64_t best = std::max_element(row, row + 3) - row;
    double lse = std::log(std::exp(double(row[0])) + std::exp(double(row[1])) + std::exp(double(row[2])));
    loss += lse - row[truth[i]];
    correct += best == truth[i];
    ++confusion[truth[i]][best];
  }
  CHECK(r.images == 30);
  CHECK(r.correct == correct);
  CHECK(r.accuracy == doctest::Approx(static_cast<double>(correct) / 30.0));
  CHECK(r.loss == doctest::Approx(loss / 30.0).epsilon(1e-5));
  CHECK(r.confusion == confusion);
  int64_t total = 0, diagonal = 0;
  for (size_t t = 0; t < 3; ++t)
    for (size_t p = 0; p < 3; ++p) total += r.confusion[t][p], diagonal += t == p ? r.confusion[t][p] : 0;
  CHECK(total == 30);
  CHECK(diagonal == r.correct);
  CHECK(r.seconds >= 0);
  CHECK(r.img_per_s > 0);
  CHECK(train::evaluate(*model, *set).confusion.empty());  // only when asked for
}

TEST_CASE("evaluate restores every module's mode, also when forward throws") {
  auto quiet = set_warning_handler([](const std::string&) {});  // BN never saw a training batch
  nn::Sequential model(nn::Linear(2, 4), nn::BatchNorm1d(4), nn::Dropout(0.5));
  auto bn = model->at<nn::BatchNorm1dImpl>(1);
  model->train();
  model->at<nn::DropoutImpl>(2)->eval();
  const std::vector<bool> before = flags(*model);
  auto set = blobs(12, 3);
  train::evaluate(*model, *set, 5);
  CHECK(flags(*model) == before);

  model->add(std::make_shared<ThrowingImpl>());
  bn->set_mode(nn::BatchNormMode::Frozen);
  const std::vector<bool> with_thrower = flags(*model);
  CHECK(error_of([&] { train::evaluate(*model, *set, 5); }) == "3: Throwing: forward fails on purpose");  // the child names itself
  CHECK(flags(*model) == with_thrower);
  CHECK(model->is_training());
  CHECK(bn->mode() == nn::BatchNormMode::Frozen);
  set_warning_handler(quiet);
}

TEST_CASE("evaluate refuses a bad batch size and an empty dataset, naming its parameters") {
  nn::Linear model(2, 3);
  auto set = blobs(6, 4);
  CHECK(error_of([&] { train::evaluate(*model, *set, 0); }) == "evaluate: batch_size must be positive, got 0");
  data::Subset empty(set, {});
  CHECK(error_of([&] { train::evaluate(*model, empty); }) == "evaluate: the dataset is empty");
  CHECK(model->is_training());
}

TEST_CASE("fit takes max_steps steps, calls its hooks, and tests after every epoch") {
  auto train_set = blobs(40, 5), test_set = blobs(30, 6);
  manual_seed(7);
  nn::Sequential model(nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 3));
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  std::vector<train::StepInfo> steps;
  std::vector<int64_t> epochs_seen;
  train::FitHooks hooks;
  hooks.on_step = [&](const train::StepInfo& s) {
    steps.push_back(s);
    return true;
  };
  hooks.on_epoch_end = [&](const train::EpochMetrics& e) {
    epochs_seen.push_back(e.epoch);
    return true;
  };
  // 5 batches of 8 per epoch: max_steps 12 stops in epoch 3 after its second step.
  train::FitResult r = train::fit(
      *model, opt, *train_set,
      train::FitOptions().epochs(4).batch_size(8).max_steps(12).test_set(test_set).progress(false), hooks);
  CHECK(r.steps == 12);
  CHECK_FALSE(r.stopped_by_hook);
  REQUIRE(steps.size() == 12);
  for (size_t i = 0; i < steps.size(); ++i) {
    CHECK(steps[i].step == static_cast<int64_t>(i) + 1);
    CHECK(steps[i].epoch == static_cast<int64_t>(i) / 5 + 1);
    CHECK(steps[i].step_in_epoch == static_cast<int64_t>(i) % 5 + 1);
    CHECK(steps[i].images == 8);
    CHECK(std::isfinite(steps[i].loss));
  }
  CHECK(epochs_seen == std::vector<int64_t>{1, 2, 3});
  REQUIRE(r.epochs.size() == 3);
  CHECK(r.epochs[0].steps == 5);
  CHECK(r.epochs[2].steps == 12);
  // The epoch's train figures are the image-weighted means of its steps.
  double loss = 0;
  int64_t correct = 0;
  for (size_t i = 5; i < 10; ++i) loss += steps[i].loss * 8, correct += steps[i].correct;
  CHECK(r.epochs[1].train_loss == doctest::Approx(loss / 40));
  CHECK(r.epochs[1].train_acc == doctest::Approx(correct / 40.0));
  CHECK(r.epochs[2].train_loss < r.epochs[0].train_loss);  // it learns
  // The test figures are evaluate's on the trained model; fit leaves it in training mode.
  CHECK(model->is_training());
  train::EvalResult test = train::evaluate(*model, *test_set);
  CHECK(r.epochs.back().test_acc == test.accuracy);
  CHECK(r.epochs.back().test_loss == doctest::Approx(test.loss));
  CHECK(r.curves.test_acc.size() == 3);
  CHECK(r.curves.train_loss.size() == 12);  // 5 batches per epoch: a point after every step
}

TEST_CASE("fit stops when a hook says so") {
  auto set = blobs(40, 8);
  nn::Linear model(2, 3);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.05));
  auto options = train::FitOptions().epochs(3).batch_size(8).progress(false);

  train::FitHooks at_step_3;
  at_step_3.on_step = [](const train::StepInfo& s) { return s.step < 3; };
  train::FitResult r = train::fit(*model, opt, *set, options, at_step_3);
  CHECK(r.steps == 3);
  CHECK(r.stopped_by_hook);
  REQUIRE(r.epochs.size() == 1);
  CHECK(r.epochs[0].steps == 3);
  CHECK(std::isnan(r.epochs[0].test_acc));  // no test set

  train::FitHooks after_epoch_1;
  int calls = 0;
  after_epoch_1.on_epoch_end = [&](const train::EpochMetrics&) { return ++calls < 1; };
  r = train::fit(*model, opt, *set, options, after_epoch_1);
  CHECK(calls == 1);
  CHECK(r.steps == 5);
  CHECK(r.stopped_by_hook);
  CHECK(r.epochs.size() == 1);
}

TEST_CASE("fit throws when the loss stops being finite, naming the step") {
  manual_seed(9);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 40; ++i) labels.push_back(i % 3);
  data::TensorDataset set(randn({40, 2}), from_vector(labels));  // no pattern: the gradients never vanish
  nn::Sequential model(nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 3));  // gradients grow with the weights
  optim::SGD opt(model->parameters(), optim::SGDOptions(1e6));
  int64_t last_step = 0;
  train::FitHooks hooks;
  hooks.on_step = [&](const train::StepInfo& s) {
    last_step = s.step;
    return true;
  };
  std::string message = error_of([&] {
    train::fit(*model, opt, set, train::FitOptions().epochs(50).batch_size(8).progress(false), hooks);
  });
  CHECK(message == "fit: training diverged at step " + std::to_string(last_step + 1) +
                       " (the loss is not finite); try a smaller learning rate");
  CHECK(last_step > 0);
}

TEST_CASE("fit throws when the last step diverged: the test loss after it is not finite") {
  manual_seed(9);
  auto set = blobs(16, 12);
  nn::Sequential model(nn::Linear(2, 16), nn::ReLU(), nn::Linear(16, 3));
  optim::SGD opt(model->parameters(), optim::SGDOptions(1e30));
  std::string message = error_of([&] {
    train::fit(*model, opt, *set, train::FitOptions().max_steps(1).batch_size(16).test_set(set).progress(false));
  });
  CHECK(message.rfind("fit: training diverged by step 1 (the test loss is ", 0) == 0);
}

TEST_CASE("fit refuses bad options, naming the library's parameters") {
  auto set = blobs(6, 11);
  nn::Linear model(2, 3);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  CHECK(error_of([&] { train::fit(*model, opt, *set, train::FitOptions().batch_size(0)); }) ==
        "fit: batch_size must be positive, got 0");
  CHECK(error_of([&] { train::fit(*model, opt, *set, train::FitOptions().epochs(0)); }) ==
        "fit: epochs must be positive, got 0");
  CHECK(error_of([&] { train::fit(*model, opt, *set, train::FitOptions().max_steps(-1)); }).find("max_steps") !=
        std::string::npos);
}

TEST_CASE("fit writes the metrics CSV after every epoch and the curves at the end") {
  auto train_set = blobs(24, 12), test_set = blobs(12, 13);
  nn::Linear model(2, 3);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  const std::string csv = temp_path("metrics.csv"), svg = temp_path("curves.svg");
  train::FitResult r = train::fit(*model, opt, *train_set,
                                  train::FitOptions()
                                      .epochs(2)
                                      .batch_size(8)
                                      .test_set(test_set)
                                      .metrics_csv(csv)
                                      .plot_svg(svg)
                                      .plot_title("blobs")
                                      .progress(false));
  std::vector<std::string> lines = test::lines_of(csv);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds");
  for (size_t e = 0; e < 2; ++e) {
    std::istringstream row(lines[e + 1]);
    std::vector<double> v;
    for (std::string cell; std::getline(row, cell, ',');) v.push_back(std::stod(cell));
    REQUIRE(v.size() == 8);
    const train::EpochMetrics& m = r.epochs[e];
    CHECK(v[0] == static_cast<double>(e + 1));
    CHECK(v[1] == static_cast<double>(3 * (e + 1)));
    CHECK(v[2] == doctest::Approx(m.train_loss).epsilon(1e-5));
    CHECK(v[3] == doctest::Approx(m.train_acc).epsilon(1e-5));
    CHECK(v[4] == doctest::Approx(m.test_loss).epsilon(1e-5));
    CHECK(v[5] == doctest::Approx(m.test_acc).epsilon(1e-5));
  }
  std::string text;
  for (const std::string& l : test::lines_of(svg)) text += l + "\n";
  CHECK(text.rfind("<svg", 0) == 0);
  CHECK(text.find("<polyline") != std::string::npos);
  CHECK(text.find("blobs, 6 steps") != std::string::npos);
  fs::remove(csv);
  fs::remove(svg);
}

TEST_CASE("measure_step_memory predicts a training step's tensor peak, and check_step_fits refuses a batch that would not fit") {
  release_cached_buffers();  // the peaks count whole size classes: a cache left by earlier tests would skew them
  manual_seed(3);
  auto data = std::make_shared<data::Synthetic>(
      200, data::SyntheticOptions().classes(4).channels(3).height(16).width(16).seed(1));
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(3, 16, 3).padding(1)), nn::BatchNorm2d(16), nn::ReLU(),
                       nn::Conv2d(nn::Conv2dOptions(16, 16, 3).padding(1)), nn::ReLU(), nn::Flatten(),
                       nn::Linear(16 * 16 * 16, 4));
  const Tensor running_mean = model->named_buffers()[0].second.clone();
  const std::string generator = random_state();
  train::StepMemory m = train::measure_step_memory(*model, *data);
  // Nothing the run depends on moved: no running statistic, no draw, no gradient left behind.
  CHECK(equal(model->named_buffers()[0].second, running_mean));
  CHECK(random_state() == generator);
  for (const Tensor& p : model->parameters()) CHECK_FALSE(p.grad().defined());
  REQUIRE(m.per_image > 16 * 16 * 16 * 4 * 3);  // at least three 16x16x16 activations per image
  // A real step at 128 images, in training mode.
  std::vector<int64_t> idx(128);
  std::iota(idx.begin(), idx.end(), int64_t{0});
  data::Batch batch = data->get_batch(idx);
  const size_t before = buffer_stats().in_use;
  reset_buffer_peak();
  cross_entropy(model->forward(batch.data), batch.target).backward();
  const double real = static_cast<double>(buffer_stats().peak_in_use - before);
  INFO("predicted ", m.at(128), " bytes, measured ", real);
  CHECK(m.at(128) > 0.75 * real);
  CHECK(m.at(128) < 1.33 * real);
  // Refused when it would not fit (the available bytes given), naming the largest batch that fits.
  const auto available = static_cast<uint64_t>(m.at(100) / 0.9) + 4096;
  CHECK_NOTHROW(train::check_step_fits(*model, *data, 100, "batch", available));
  const std::string error = error_of([&] { train::check_step_fits(*model, *data, 150, "--batch-size", available); });
  CHECK(error.find("--batch-size 150: a training step would need about") == 0);
  CHECK(error.find("the largest batch that fits is about 10") != std::string::npos);  // 100 or 99: rounding
  CHECK(error_of([&] { train::check_step_fits(*model, *data, 1000000, "b", available); }).find("b 200:") == 0);
  CHECK(train::available_memory() > 0);
}

TEST_CASE("DataParallel on one process: buckets hooked and sent, gradients unchanged, hooks removed after") {
  manual_seed(5);
  nn::Sequential model(nn::Linear(4, 3), nn::BatchNorm1d(3), nn::ReLU(), nn::Linear(3, 2));
  Tensor x = randn({6, 4}), target = from_vector(std::vector<int64_t>{0, 1, 1, 0, 1, 0});
  cross_entropy(model->forward(x), target).backward();
  std::vector<std::vector<float>> expected;
  for (Tensor p : model->parameters()) {
    expected.push_back(p.grad().to_vector<float>());
    p.set_grad(Tensor());
  }
  {
    train::DataParallel dp(*model, train::DataParallelOptions().bucket_bytes(24));
    // 6 floats a bucket, from the last parameter back: {2}, {6}, {3, 3}, {3}, {12}.
    CHECK(dp.buckets() == 5);
    for (int step = 0; step < 2; ++step) {
      dp.before_forward();
      cross_entropy(model->forward(x), target).backward();
      dp.after_backward();
      size_t i = 0;
      for (Tensor p : model->parameters()) {
        CHECK(p.grad().to_vector<float>() == expected[i++]);
        p.set_grad(Tensor());
      }
    }
  }
  for (const Tensor& p : model->parameters()) CHECK(p.impl()->post_accumulate_grad_hook == nullptr);
  CHECK_THROWS_AS(train::DataParallel(*model, train::DataParallelOptions().bucket_bytes(0)), Error);
}
