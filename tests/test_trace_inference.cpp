// trace_for_inference (layers/trace_inference.h): a user's own forward (examples/resnet_module.h,
// functional relu and add) replayed with its BatchNorms folded and its ReLUs and adds inside the
// convolutions, equal to the model's eval output at any batch; a zoo model's replay computes the
// same bits as fuse_for_inference; and what it cannot follow is refused, naming the module.
#include "../examples/resnet_module.h"
#include "helpers.h"

using namespace wick;

namespace {

Tensor eval_forward(nn::Module& m, const Tensor& x) {
  NoGradGuard g;
  nn::ModeGuard eval(m, false);
  return m.forward(x);
}

// A module whose forward runs `body` on its one layer's result.
struct Custom : nn::Module {
  explicit Custom(std::function<Tensor(const Tensor&)> body) : body(std::move(body)) {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(1, 4, 3).padding(1)));
  }
  Tensor forward(const Tensor& x) override { return body(conv(x)); }
  std::function<Tensor(const Tensor&)> body;
  nn::Conv2d conv{nullptr};
};

std::string trace_error(nn::Module& m, const Shape& sample = {1, 8, 8}) {
  return test::error_of([&] { nn::trace_for_inference(m, sample); });
}

}  // namespace

TEST_CASE("trace_for_inference folds and fuses inside a user's own forward and matches its eval output") {
  manual_seed(31);
  auto net = std::make_shared<resnet_module::NetImpl>(resnet_module::NetOptions().blocks(2).classes(10));
  test::give_statistics(*net, {8, 1, 28, 28});
  REQUIRE(nn::has_own_forward(*net));
  net->train();  // as a training loop leaves it: traced in eval mode, and left in training mode
  nn::TraceInferenceReport r;
  auto traced = nn::trace_for_inference(*net, {1, 28, 28}, &r);
  CHECK(net->is_training());
  // stem + 6 blocks: every BatchNorm (1 + 2 per block + 2 shortcuts) folded; each block's first
  // ReLU, add and last ReLU, the stem's ReLU and the Linear's bias fused.
  CHECK(r.folded == 1 + 2 * 6 + 2);
  CHECK(r.fused == 1 + 3 * 6 + 1);
  // Per forward: stem, 6 x (2 convs) + 2 shortcut convs, pooling, flatten, linear.
  CHECK(r.steps == 1 + 12 + 2 + 3);
  CHECK_FALSE(traced->is_training());
  for (int64_t batch : {1, 2, 5, 19}) {  // 19: chunks of 8 and 11 samples
    CAPTURE(batch);
    Tensor x = randn({batch, 1, 28, 28});
    Tensor want = eval_forward(*net, x), got = traced->forward(x);
    CHECK(test::closeness(got, want, 1e-4, 1e-4) <= 1.0);
    CHECK_FALSE(got.requires_grad());
  }
  // Its own copies: training the model afterwards changes nothing in the replay.
  Tensor x = randn({2, 1, 28, 28});
  Tensor before = traced->forward(x);
  {
    NoGradGuard g;
    net->stem->weight.mul_(2.0);
  }
  CHECK(equal(traced->forward(x), before));
  CHECK(test::error_of([&] { traced->forward(randn({2, 3, 28, 28})); }) ==
        "TracedInference: traced for inputs [N, 1, 28, 28], got [2, 3, 28, 28]");
  CHECK(test::error_of([&] { traced->train(); }).find("runs inference only") != std::string::npos);
  test::same_bits_at_1_and_2_threads([&] { return traced->forward(x); });
  Tensor chunked = randn({19, 1, 28, 28});
  test::same_bits_at_1_and_2_threads([&] { return traced->forward(chunked); });
}

TEST_CASE("trace_for_inference computes the same bits as fuse_for_inference on zoo models") {
  for (const char* name : {"small-cnn", "resnet20", "lenet5"}) {
    CAPTURE(name);
    manual_seed(32);
    auto model = nn::make_model(name);
    test::give_statistics(*model, {8, 1, 28, 28});
    CHECK_FALSE(nn::has_own_forward(*model));
    auto fused = nn::fuse_for_inference(*model);
    auto traced = nn::trace_for_inference(*model, {1, 28, 28});
    for (int64_t batch : {1, 3, 21}) {  // 21: in chunks, the same bits
      Tensor x = randn({batch, 1, 28, 28});
      NoGradGuard g;
      CHECK(equal(traced->forward(x), fused->forward(x)));
    }
  }
}

TEST_CASE("trace_for_inference refuses what a replay cannot follow, naming the module") {
  manual_seed(33);
  Custom sums([](const Tensor& h) { return h.sum({1}); });
  CHECK(trace_error(sums).find("trace_for_inference: the model: the forward uses 'sum', which trace_for_inference "
                               "cannot replay") == 0);
  Custom batch_moved([](const Tensor& h) { return h.reshape({-1}).reshape(h.shape()); });
  CHECK(trace_error(batch_moved).find("changes the batch dimension") != std::string::npos);
  Custom made([](const Tensor& h) { return add(h, ones(h.shape())); });
  CHECK(trace_error(made).find("neither the input, a parameter or buffer") != std::string::npos);
  nn::Sequential stats(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4));
  stats->at<nn::BatchNorm2dImpl>(1)->set_mode(nn::BatchNormMode::BatchStats);
  CHECK(trace_error(*stats).find("trace_for_inference: 1: this BatchNorm is in batch-stats mode") == 0);
  CHECK(trace_error(*stats, {}).find("the sample shape") != std::string::npos);
  // A conv whose result something else reads too keeps its ReLU and add apart, and still matches.
  Custom shared([](const Tensor& h) { return add(relu(h), h); });
  nn::TraceInferenceReport r;
  auto traced = nn::trace_for_inference(shared, {1, 8, 8}, &r);
  CHECK(r.fused == 0);
  Tensor x = randn({2, 1, 8, 8});
  CHECK(test::closeness(traced->forward(x), eval_forward(shared, x), 1e-5, 1e-6) <= 1.0);
}

TEST_CASE("trace_for_inference runs a batch whole when a step mixes its samples") {
  manual_seed(34);
  const std::vector<std::function<Tensor(const Tensor&)>> bodies{
      [](const Tensor& h) { return softmax(h.reshape({h.size(0), -1}), 0); },
      [](const Tensor& h) { return log_softmax(h.reshape({h.size(0), -1}), -2); }};
  for (size_t i = 0; i < bodies.size(); ++i) {
    CAPTURE(i);
    Custom mixing(bodies[i]);
    Tensor x = randn({19, 1, 8, 8});  // in chunks, each would be normalized on its own
    auto traced = nn::trace_for_inference(mixing, {1, 8, 8});
    CHECK(test::closeness(traced->forward(x), eval_forward(mixing, x), 1e-5, 1e-6) <= 1.0);
  }
}
