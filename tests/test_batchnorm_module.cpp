// BatchNorm1d/2d as modules (docs/batchnorm_spec.md): the worked example, momentum and the cumulative average,
// num_batches_tracked, the no-grad trap, modes (frozen, batch-stats), errors, the never-trained
// warning, and the BN tools: freeze, recalibrate, fold.
#include "helpers.h"

using namespace wick;

namespace {
Tensor spec_input() { return arange(16).view({2, 2, 2, 2}); }
std::vector<float> channel0(const Tensor& y) { return y.select(1, 0).contiguous().to_vector<float>(); }

// Per-channel mean and unbiased variance of an (N, C, H, W) batch.
std::pair<Tensor, Tensor> batch_stats(const Tensor& x) {
  return {mean(x, {0, 2, 3}), var(x, {0, 2, 3}, /*unbiased=*/true)};
}

nn::Sequential tiny_cnn() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)), nn::BatchNorm2d(4), nn::ReLU(),
                        nn::Dropout(0.5), nn::Conv2d(nn::Conv2dOptions(4, 6, 3).bias(false)), nn::BatchNorm2d(6),
                        nn::ReLU(), nn::Flatten(), nn::Linear(6 * 6 * 6, 5), nn::BatchNorm1d(5), nn::Linear(5, 3));
}
}  // namespace

TEST_CASE("BatchNorm2d module reproduces the spec's worked example") {
  nn::BatchNorm2d bn(2);
  Tensor y = bn(spec_input());
  std::vector<float> expect{-1.324244f, -1.083472f, -0.842701f, -0.601929f, 0.601929f, 0.842701f, 1.083472f, 1.324244f};
  CHECK_CLOSE(from_vector(channel0(y)), from_vector(expect), 1e-5, 1e-6);
  CHECK_CLOSE(bn->running_mean, from_vector(std::vector<float>{0.55f, 0.95f}), 1e-5, 1e-7);
  CHECK_CLOSE(bn->running_var, from_vector(std::vector<float>{2.871429f, 2.871429f}), 1e-5, 1e-7);
  CHECK(bn->num_batches_tracked.item<int64_t>() == 1);
  bn->eval();
  std::vector<float> ev{-0.324573f, 0.265560f, 0.855694f, 1.445827f, 4.396494f, 4.986628f, 5.576761f, 6.166895f};
  CHECK_CLOSE(from_vector(channel0(bn(spec_input()))), from_vector(ev), 1e-5, 1e-6);
  CHECK(bn->num_batches_tracked.item<int64_t>() == 1);  // eval leaves the buffers alone
}

TEST_CASE("BatchNorm1d with momentum None keeps PyTorch's cumulative average") {
  test::Golden g("nn_model.json");
  const auto& c = g.at("cases").at("bn1d_cumulative");
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(5).momentum(std::nullopt));
  {
    NoGradGuard ng;
    bn->weight.copy_(test::Golden::tensor(c.at("weight")));
    bn->bias.copy_(test::Golden::tensor(c.at("bias")));
  }
  for (const auto& b : c.at("batches")) bn(test::Golden::tensor(b));
  CHECK_CLOSE(bn->running_mean, test::Golden::tensor(c.at("running_mean")), 1e-5, 1e-6);
  CHECK_CLOSE(bn->running_var, test::Golden::tensor(c.at("running_var")), 1e-5, 1e-6);
  CHECK(bn->num_batches_tracked.item<int64_t>() == 4);
  bn->eval();
  CHECK_CLOSE(bn(test::Golden::tensor(c.at("probe"))), test::Golden::tensor(c.at("eval_out")), 1e-5, 1e-6);
}

TEST_CASE("BatchNorm1d on (N, C, L) with momentum 0.3 matches PyTorch, gradients included") {
  test::Golden g("nn_model.json");
  const auto& c = g.at("cases").at("bn1d_ncl");
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(4).momentum(0.3));
  Tensor x = test::Golden::tensor(c.at("x")).requires_grad_();
  Tensor y = bn(x);
  y.backward(test::Golden::tensor(c.at("g")));
  CHECK_CLOSE(y, test::Golden::tensor(c.at("y")), 1e-5, 1e-6);
  CHECK_CLOSE(x.grad(), test::Golden::tensor(c.at("dx")), 1e-5, 1e-6);
  CHECK_CLOSE(bn->weight.grad(), test::Golden::tensor(c.at("dweight")), 1e-5, 1e-6);
  CHECK_CLOSE(bn->bias.grad(), test::Golden::tensor(c.at("dbias")), 1e-5, 1e-6);
  CHECK_CLOSE(bn->running_mean, test::Golden::tensor(c.at("running_mean")), 1e-5, 1e-6);
  CHECK_CLOSE(bn->running_var, test::Golden::tensor(c.at("running_var")), 1e-5, 1e-6);
  CHECK(!bn->running_mean.requires_grad());
}

TEST_CASE("defaults, reset_running_stats and reset_parameters") {
  nn::BatchNorm2d bn(3);
  CHECK(bn->running_var.to_vector<float>() == std::vector<float>(3, 1.f));
  CHECK(bn->running_mean.to_vector<float>() == std::vector<float>(3, 0.f));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 0);
  bn(randn({4, 3, 2, 2}) * 3.0 + 2.0);
  {
    NoGradGuard g;
    bn->weight.fill_(2);
  }
  bn->reset_running_stats();
  CHECK(bn->running_var.to_vector<float>() == std::vector<float>(3, 1.f));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 0);
  CHECK(bn->weight.to_vector<float>() == std::vector<float>(3, 2.f));
  bn->reset_parameters();
  CHECK(bn->weight.to_vector<float>() == std::vector<float>(3, 1.f));
}

TEST_CASE("no-grad and frozen parameters do not stop the running statistics, eval does") {
  manual_seed(1);
  Tensor x = randn({4, 3, 5, 5}) + 1.0;
  nn::BatchNorm2d bn(3);
  {
    NoGradGuard g;
    bn(x);
  }
  CHECK(bn->num_batches_tracked.item<int64_t>() == 1);
  CHECK_CLOSE(bn->running_mean, mul(batch_stats(x).first, 0.1), 1e-5, 1e-7);
  bn->weight.requires_grad_(false);
  bn->bias.requires_grad_(false);
  bn(x);
  CHECK(bn->num_batches_tracked.item<int64_t>() == 2);
  bn->eval();
  Tensor before = bn->running_mean.clone();
  bn(x);
  CHECK(equal(bn->running_mean, before));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 2);
}

TEST_CASE("track_running_stats=false: no buffers, batch statistics in both modes") {
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(2).track_running_stats(false));
  CHECK(bn->named_buffers().empty());
  CHECK(nn::state_dict(*bn).size() == 2);
  Tensor train_out = bn(spec_input());
  bn->eval();
  CHECK(equal(bn(spec_input()), train_out));
  CHECK_THROWS_WITH_AS(bn->set_mode(nn::BatchNormMode::Frozen), doctest::Contains("cannot freeze"), Error);
}

TEST_CASE("track_running_stats and affine flipped on a built layer change nothing") {
  // Seed 004's trick; PyTorch 1.13 also keeps normalizing with the stored buffers in eval mode.
  nn::BatchNorm2d bn(2);
  bn(spec_input());
  bn->eval();
  Tensor eval_out = bn(spec_input());
  bn->options.track_running_stats(false).affine(false);
  CHECK(equal(bn(spec_input()), eval_out));
  bn->train();
  bn(spec_input());
  CHECK(bn->num_batches_tracked.item<int64_t>() == 2);
  CHECK(bn->repr().find("affine=True, track_running_stats=True") != std::string::npos);
}

TEST_CASE("a frozen BN stays frozen through model->train() until unfrozen") {
  manual_seed(2);
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(2, 2, 1)), nn::BatchNorm2d(2));
  auto bn = model->at<nn::BatchNorm2dImpl>(1);
  model->forward(randn({4, 2, 3, 3}) * 2.0 + 1.0);  // some statistics
  CHECK(nn::freeze_batchnorm(*model) == 1);
  model->train();
  CHECK(bn->mode() == nn::BatchNormMode::Frozen);
  CHECK(!bn->weight.requires_grad());
  Tensor rm = bn->running_mean.clone(), rv = bn->running_var.clone();
  Tensor x = randn({4, 2, 3, 3});
  Tensor y = model->forward(x);
  CHECK(equal(bn->running_mean, rm));
  CHECK(equal(bn->running_var, rv));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 1);
  sum(y).backward();
  CHECK(!bn->weight.grad().defined());
  CHECK(model->at<nn::Conv2dImpl>(0)->weight.grad().defined());
  model->eval();
  CHECK(equal(model->forward(x), y));  // frozen == eval statistics
  CHECK(bn->repr().find("mode=frozen") != std::string::npos);
  CHECK(nn::unfreeze_batchnorm(*model) == 1);
  model->train();
  model->forward(x);
  CHECK(bn->num_batches_tracked.item<int64_t>() == 2);
  CHECK(bn->weight.requires_grad());
}

TEST_CASE("batch-stats mode normalizes with the batch in eval mode and never updates") {
  nn::BatchNorm2d bn(2);
  Tensor train_out = bn(spec_input());
  bn->reset_running_stats();
  bn->set_mode(nn::BatchNormMode::BatchStats);
  bn->eval();
  CHECK(equal(bn(spec_input()), train_out));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 0);
  CHECK(bn->running_var.to_vector<float>() == std::vector<float>(2, 1.f));
}

TEST_CASE("a single value per channel is an error only when training") {
  nn::BatchNorm2d bn2(3);
  CHECK_THROWS_WITH_AS(bn2(ones({1, 3, 1, 1})),
                       doctest::Contains("Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]"),
                       Error);
  CHECK(bn2->num_batches_tracked.item<int64_t>() == 0);
  CHECK(bn2(randn({1, 3, 2, 2})).shape() == Shape{1, 3, 2, 2});  // N = 1 with H*W > 1 is fine
  nn::BatchNorm1d bn1(3);
  CHECK_THROWS_WITH_AS(bn1(ones({1, 3})), doctest::Contains("got input size [1, 3]"), Error);
  bn1->eval();
  CHECK(bn1(ones({1, 3})).shape() == Shape{1, 3});
  nn::BatchNorm2d wrong(4);
  CHECK_THROWS_WITH_AS(wrong(ones({2, 3, 2, 2})), doctest::Contains("4"), Error);
}

TEST_CASE("a NaN batch is refused and leaves the running statistics untouched") {
  nn::BatchNorm2d bn(2);
  bn(spec_input());
  Tensor rm = bn->running_mean.clone(), rv = bn->running_var.clone();
  Tensor bad = spec_input().clone();
  bad.data<float>()[3] = NAN;
  CHECK_THROWS_AS(bn(bad), Error);
  CHECK(equal(bn->running_mean, rm));
  CHECK(equal(bn->running_var, rv));
  CHECK(bn->num_batches_tracked.item<int64_t>() == 1);
}

TEST_CASE("evaluating a BN that never saw a training batch warns once") {
  std::vector<std::string> seen;
  auto prev = set_warning_handler([&](const std::string& m) { seen.push_back(m); });
  nn::BatchNorm2d bn(2);
  bn->eval();
  bn(spec_input());
  bn(spec_input());
  set_warning_handler(prev);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].find("never saw a training batch") != std::string::npos);
}

TEST_CASE("recalibrate_batchnorm recomputes the statistics as a plain average with Dropout off") {
  manual_seed(5);
  auto model = tiny_cnn();
  std::vector<Tensor> batches;
  for (int i = 0; i < 4; ++i) batches.push_back(randn({6, 1, 8, 8}) * (1.0 + i) + 0.5 * i);
  auto first_bn = model->at<nn::BatchNorm2dImpl>(1);
  auto last_bn = model->at<nn::BatchNorm1dImpl>(9);
  last_bn->set_mode(nn::BatchNormMode::Frozen);
  model->eval();
  CHECK(nn::recalibrate_batchnorm(*model, batches, 3) == 3);

  // The first BN sees the conv output directly: its statistics are the mean of the per-batch ones.
  NoGradGuard g;
  Tensor m = zeros({4}), v = zeros({4});
  for (int i = 0; i < 3; ++i) {
    auto [bm, bv] = batch_stats(model->at<nn::Conv2dImpl>(0)->forward(batches[i]));
    m = m + bm;
    v = v + bv;
  }
  CHECK_CLOSE(first_bn->running_mean, m / 3.0, 1e-5, 1e-6);
  CHECK_CLOSE(first_bn->running_var, v / 3.0, 1e-5, 1e-6);
  CHECK(first_bn->num_batches_tracked.item<int64_t>() == 3);
  CHECK(first_bn->options.momentum() == 0.1);  // restored
  CHECK(last_bn->mode() == nn::BatchNormMode::Frozen);
  CHECK(last_bn->num_batches_tracked.item<int64_t>() == 3);
  for (auto& [name, mod] : model->named_modules()) CHECK_MESSAGE(!mod->is_training(), name);

  // Dropout stayed off: recalibrating twice on the same data gives the same bits.
  Tensor second = model->at<nn::BatchNorm2dImpl>(5)->running_var.clone();
  nn::recalibrate_batchnorm(*model, batches, 3);
  CHECK(equal(model->at<nn::BatchNorm2dImpl>(5)->running_var, second));
}

TEST_CASE("fold_batchnorm gives the eval-mode outputs within 1e-5") {
  manual_seed(6);
  auto model = tiny_cnn();
  for (int i = 0; i < 3; ++i) model->forward(randn({8, 1, 8, 8}) * 2.0 + 1.0);
  {
    NoGradGuard g;
    for (auto& [name, bn] : nn::batchnorm_layers(*model)) {
      bn->weight.copy_(randn(bn->weight.shape()));
      bn->bias.copy_(randn(bn->bias.shape()));
    }
  }
  int folded = 0;
  auto fused = nn::fold_batchnorm(model, &folded);
  CHECK(folded == 3);
  CHECK(nn::batchnorm_layers(*fused).empty());
  CHECK(fused->repr().find("Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))") != std::string::npos);  // bias added
  model->eval();
  Tensor x = randn({5, 1, 8, 8});
  CHECK_CLOSE(fused->forward(x), model->forward(x), 1e-5, 1e-5);

  model->at<nn::BatchNorm1dImpl>(9)->set_mode(nn::BatchNormMode::BatchStats);
  nn::fold_batchnorm(model, &folded);
  CHECK(folded == 2);  // a batch-stats layer has nothing to fold

  // A negative running variance (a corrupt file) is refused, naming the channel, not folded into NaNs.
  model->at<nn::BatchNorm2dImpl>(1)->running_var.data<float>()[2] = -2.f;
  CHECK_THROWS_WITH_AS(nn::fold_batchnorm(model), doctest::Contains("running_var[2] = -2"), Error);
}

TEST_CASE("freeze_batchnorm drops held gradients: SGD momentum and weight decay leave gamma and beta") {
  manual_seed(3);
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(2, 3, 1)), nn::BatchNorm2d(3));
  auto bn = model->at<nn::BatchNorm2dImpl>(1);
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  Tensor x = randn({4, 2, 3, 3});
  sum(pow(model->forward(x), 3.0)).backward();
  opt.step();  // momentum buffers now hold a velocity for gamma and beta
  CHECK(nn::freeze_batchnorm(*model) == 1);
  CHECK(!bn->weight.grad().defined());
  CHECK(!bn->bias.grad().defined());
  opt.zero_grad(false);
  Tensor gamma = bn->weight.clone(), beta = bn->bias.clone();
  Tensor conv_w = model->at<nn::Conv2dImpl>(0)->weight.clone();
  sum(pow(model->forward(x), 3.0)).backward();
  opt.step();
  CHECK(equal(bn->weight, gamma));
  CHECK(equal(bn->bias, beta));
  CHECK_FALSE(equal(model->at<nn::Conv2dImpl>(0)->weight, conv_w));  // the rest still trains
}
