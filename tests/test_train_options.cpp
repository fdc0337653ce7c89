// train::fit's training options and the library pieces behind them: optim::Schedule against
// PyTorch's SequentialLR recipes and closed forms, data::hold_out, data::with_augmentation (seeded,
// training batches only), save_best, label smoothing, gradient clipping, and the metrics files.
// (cross_entropy's label smoothing has its gradient check and PyTorch values in test_loss.cpp.)
#include <cmath>
#include <numbers>
#include <set>

#include "helpers.h"

using namespace wick;
using json = nlohmann::json;

namespace {

// Two groups with lr 0.1 and 0.01, as tools/golden/optim.py's recipes.
struct TwoGroups {
  Tensor p0 = zeros({1}).requires_grad_(), p1 = zeros({1}).requires_grad_();
  optim::SGD opt{std::vector<optim::ParamGroup>{optim::ParamGroup({p0}),
                                                optim::ParamGroup({p1}, optim::SGDOptions(0.01).momentum(0.9))},
                 optim::SGDOptions(0.1).momentum(0.9)};
};

// Small 1x8x8 images of 3 classes.
std::shared_ptr<data::Synthetic> images(int64_t n, uint64_t seed) {
  return std::make_shared<data::Synthetic>(n, data::SyntheticOptions().classes(3).height(8).width(8).seed(seed));
}

nn::Sequential small_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::Flatten(), nn::Linear(4 * 8 * 8, 3));
}

}  // namespace

TEST_CASE("Schedule matches PyTorch's SequentialLR(LinearLR warm-up, main scheduler), stepped per step") {
  test::Golden golden("optim.json");
  for (const json& c : golden.at("cases").at("recipes")) {
    const std::string name = c["name"], kind = c["kind"];
    INFO(name);
    const json& a = c["args"];
    optim::ScheduleOptions o;
    o.kind(kind == "step"        ? optim::ScheduleKind::Step
           : kind == "multistep" ? optim::ScheduleKind::MultiStep
                                 : optim::ScheduleKind::Cosine)
        .warmup_epochs(c["warmup_epochs"]);
    if (a.contains("step_size")) o.step_size(a["step_size"]);
    if (a.contains("milestones")) o.milestones(a["milestones"].get<std::vector<int64_t>>());
    if (a.contains("gamma")) o.gamma(a["gamma"]);
    TwoGroups g;
    optim::Schedule s(g.opt, o, c["epochs"], c["steps_per_epoch"]);
    const json& lrs = c["lrs"];
    for (size_t k = 0; k < lrs.size(); ++k) {
      INFO("step ", k + 1);
      CHECK(g.opt.lr(0) == doctest::Approx(lrs[k][0].get<double>()).epsilon(1e-12));
      CHECK(g.opt.lr(1) == doctest::Approx(lrs[k][1].get<double>()).epsilon(1e-12));
      s.step();
    }
  }
}

TEST_CASE("Schedule's lrs follow the closed forms: linear warm-up, cosine to 0, onecycle after a warm-up") {
  const int64_t epochs = 5, per = 4, warmup = 1, w = warmup * per, main = (epochs - warmup) * per;
  TwoGroups g;
  optim::Schedule cosine(g.opt, optim::ScheduleOptions().kind(optim::ScheduleKind::Cosine).warmup_epochs(warmup),
                         epochs, per);
  for (int64_t t = 0; t < epochs * per; ++t) {
    INFO("step index ", t);
    const double want = t < w ? 0.1 * (0.01 + 0.99 * double(t) / double(w))
                              : 0.05 * (1 + std::cos(std::numbers::pi * double(t - w) / double(main)));
    CHECK(g.opt.lr(0) == doctest::Approx(want).epsilon(1e-12));
    cosine.step();
  }
  CHECK(g.opt.lr(0) == doctest::Approx(0.0));  // after the last step: the bottom of the cosine

  TwoGroups h;
  optim::Schedule one(h.opt, optim::ScheduleOptions().kind(optim::ScheduleKind::OneCycle).warmup_epochs(warmup),
                      epochs, per);
  std::vector<double> lrs;
  for (int64_t t = 0; t < epochs * per; ++t, one.step()) lrs.push_back(h.opt.lr(1));
  CHECK(lrs[0] == doctest::Approx(0.01 * 0.01));
  CHECK(lrs[w] == doctest::Approx(0.01 / 25));  // onecycle starts at max_lr / div_factor
  const auto peak = static_cast<size_t>(w + std::llround(0.3 * double(main)) - 1);  // pct_start 0.3
  CHECK(lrs[peak] == doctest::Approx(0.01));
  CHECK(lrs.back() == doctest::Approx(0.01 / 25 / 1e4));  // the last step runs at the minimum

  TwoGroups bad;
  CHECK_THROWS_WITH_AS(optim::Schedule(bad.opt, optim::ScheduleOptions().warmup_epochs(3), 3, 4),
                       doctest::Contains("warmup_epochs must be in [0, epochs = 3)"), Error);
}

TEST_CASE("hold_out: a seeded, disjoint split covering the dataset, each part in the dataset's order") {
  auto set = images(100, 1);
  data::HoldOut a = data::hold_out(set, 0.2, 7), b = data::hold_out(set, 0.2, 7), c = data::hold_out(set, 0.2, 8);
  REQUIRE(a.held_out.size() == 20);
  REQUIRE(a.kept.size() == 80);
  CHECK(a.held_out.indices() == b.held_out.indices());
  CHECK(a.held_out.indices() != c.held_out.indices());
  std::set<int64_t> all(a.kept.indices().begin(), a.kept.indices().end());
  all.insert(a.held_out.indices().begin(), a.held_out.indices().end());
  CHECK(all.size() == 100);
  CHECK(std::is_sorted(a.kept.indices().begin(), a.kept.indices().end()));
  CHECK(std::is_sorted(a.held_out.indices().begin(), a.held_out.indices().end()));
  CHECK(data::hold_out(set, 0.001, 0).held_out.size() == 1);  // at least one, leaving at least one
  CHECK(data::hold_out(set, 0.999, 0).kept.size() == 1);
  CHECK_THROWS_WITH_AS(data::hold_out(set, 1.0, 0), doctest::Contains("fraction must be in (0, 1)"), Error);
}

TEST_CASE("with_augmentation: seeded crops and flips on a copy, through Subsets, the original is untouched") {
  auto set = images(16, 2);
  auto part = std::make_shared<data::Subset>(set, std::vector<int64_t>{3, 5, 8});
  const auto aug = data::Augmentation().crop_padding(2).horizontal_flip(true);
  auto augmented = data::with_augmentation(part, aug);
  const std::vector<int64_t> idx{0, 1, 2};
  CHECK(equal(augmented->get_batch(idx, 11).data, augmented->get_batch(idx, 11).data));  // same seed, same bits
  CHECK_FALSE(equal(augmented->get_batch(idx, 11).data, augmented->get_batch(idx, 12).data));
  CHECK_FALSE(equal(augmented->get_batch(idx, 11).data, part->get_batch(idx, 11).data));
  CHECK_FALSE(set->augmentation().enabled());
  data::TensorDataset tensors(zeros({4, 2}), from_vector(std::vector<int64_t>{0, 1, 0, 1}));
  CHECK_THROWS_WITH_AS(data::with_augmentation(std::make_shared<data::TensorDataset>(tensors), aug),
                       doctest::Contains("need an image dataset"), Error);
}

TEST_CASE("fit augments the training batches only, the same way for the same seed") {
  auto train_set = images(48, 3), val = images(24, 4);
  auto run = [&](bool augment) {
    manual_seed(5);
    auto model = small_cnn();
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    auto o = train::FitOptions().epochs(2).batch_size(16).seed(9).validation_set(val).progress(false);
    if (augment) o.augmentation(data::Augmentation().crop_padding(2).horizontal_flip(true));
    train::FitResult r = train::fit(*model, opt, *train_set, o);
    // The validation figures are plain evaluations: no augmentation reached them.
    CHECK(r.epochs.back().val_acc == train::evaluate(*model, *val).accuracy);
    return std::make_pair(r.step_log.back().loss, nn::state_dict(*model)[0].second);
  };
  auto [loss_a, w_a] = run(true);
  auto [loss_b, w_b] = run(true);
  auto [loss_c, w_c] = run(false);
  CHECK(loss_a == loss_b);
  CHECK(equal(w_a, w_b));
  CHECK_FALSE(equal(w_a, w_c));
  CHECK_FALSE(train_set->augmentation().enabled());
}

TEST_CASE("save_best keeps the epoch with the best validation accuracy, unfused, and needs a validation set") {
  auto train_set = images(60, 5), val = images(30, 6);
  manual_seed(3);
  auto model = small_cnn();
  nn::fuse_batchnorm_relu(*model);  // as wick train does
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  test::TempFile best;
  // After epoch 2 the head is wiped and no longer trained: later epochs are worse.
  auto head = std::dynamic_pointer_cast<nn::LinearImpl>(model->named_children().back().second);
  std::vector<Tensor> epoch2_state;
  train::FitHooks hooks;
  hooks.on_epoch_end = [&](const train::EpochMetrics& e) {
    if (e.epoch == 2) {
      for (auto& [name, t] : nn::state_dict(*model)) epoch2_state.push_back(t.clone());
      NoGradGuard no_grad;
      head->weight.mul_(0.0);
      opt.set_lr(0.0);
    }
    return true;
  };
  train::FitResult r = train::fit(
      *model, opt, *train_set,
      train::FitOptions().epochs(4).batch_size(20).validation_set(val).save_best(best.path).progress(false), hooks);
  REQUIRE(r.epochs.size() == 4);
  CHECK(r.epochs[1].val_acc > r.epochs[3].val_acc);
  int64_t want = 1;
  for (const auto& e : r.epochs)
    if (e.val_acc > r.epochs[static_cast<size_t>(want - 1)].val_acc) want = e.epoch;
  CHECK(r.best_epoch == want);
  CHECK(r.best_epoch <= 2);
  std::shared_ptr<nn::Module> loaded = nn::load_module(best.path);
  CHECK(loaded->repr().find("ReLU") != std::string::npos);
  CHECK(loaded->repr() == small_cnn()->repr());  // the architecture as built: BatchNorm2d, ReLU
  CHECK(train::evaluate(*loaded, *val).accuracy == r.epochs[static_cast<size_t>(r.best_epoch - 1)].val_acc);
  if (r.best_epoch == 2) {
    auto saved = nn::state_dict(*loaded);
    REQUIRE(saved.size() == epoch2_state.size());
    for (size_t i = 0; i < saved.size(); ++i) CHECK(equal(saved[i].second, epoch2_state[i]));
  }
  CHECK_THROWS_WITH_AS(train::fit(*model, opt, *train_set, train::FitOptions().save_best(best.path)),
                       doctest::Contains("save_best needs a validation_set"), Error);
}

TEST_CASE("fit's label smoothing and gradient clipping act on each step") {
  auto set = images(20, 7);
  manual_seed(4);
  nn::Sequential model(nn::Flatten(), nn::Linear(64, 3));
  optim::SGD opt(model->parameters(), optim::SGDOptions(1.0));
  data::Batch batch = set->get_batch({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  const double smoothed = cross_entropy(model->forward(batch.data), batch.target, Reduction::Mean, 0.2).item<double>();
  std::vector<Tensor> before;
  for (const Tensor& p : model->parameters()) before.push_back(p.clone());
  train::FitResult r = train::fit(
      *model, opt, *set,
      train::FitOptions().batch_size(20).shuffle(false).label_smoothing(0.2).grad_clip(0.01).progress(false));
  CHECK(r.step_log.at(0).loss == doctest::Approx(smoothed).epsilon(1e-6));
  double moved = 0;  // lr 1, no momentum: the update is the clipped gradient
  for (size_t i = 0; i < before.size(); ++i)
    moved += sum(mul(sub(model->parameters()[i], before[i]), sub(model->parameters()[i], before[i]))).item<double>();
  CHECK(std::sqrt(moved) == doctest::Approx(0.01).epsilon(1e-3));
  CHECK_THROWS_WITH_AS(train::fit(*model, opt, *set, train::FitOptions().label_smoothing(1.0)),
                       doctest::Contains("label_smoothing must be in [0, 1)"), Error);
}

TEST_CASE("fit's metrics: validation and lr columns when used, a line per step, lr curve in the plot") {
  auto train_set = images(24, 8), val = images(12, 9);
  nn::Sequential model(nn::Flatten(), nn::Linear(64, 3));
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  test::TempFile csv(".csv"), steps(".csv"), svg(".svg");
  train::FitResult r = train::fit(*model, opt, *train_set,
                                  train::FitOptions()
                                      .epochs(2)
                                      .batch_size(8)
                                      .validation_set(val)
                                      .schedule(optim::ScheduleOptions().kind(optim::ScheduleKind::Cosine))
                                      .metrics_csv(csv.path)
                                      .steps_csv(steps.path)
                                      .plot_svg(svg.path)
                                      .progress(false));
  std::vector<std::string> lines = test::lines_of(csv.path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "epoch,steps,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds,val_loss,val_acc,lr");
  std::vector<std::string> step_lines = test::lines_of(steps.path);
  REQUIRE(step_lines.size() == 7);
  CHECK(step_lines[0] == "step,epoch,lr,loss,acc");
  CHECK(step_lines[1].rfind("1,1,0.1,", 0) == 0);
  REQUIRE(r.step_log.size() == 6);
  CHECK(r.epochs[1].lr == r.step_log.back().lr);
  CHECK(r.step_log[3].lr == doctest::Approx(0.05));  // cosine over 6 steps: half-way at step 4
  std::string text;
  for (const std::string& l : test::lines_of(svg.path)) text += l;
  CHECK(text.find("learning rate") != std::string::npos);
  CHECK(text.find("validation") != std::string::npos);
}
