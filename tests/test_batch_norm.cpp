// batch_norm against docs/batchnorm_spec.md: the worked example, PyTorch golden values
// (tests/data/batch_norm.json), gradient checks in both modes, errors and determinism.
#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;

namespace {

std::vector<float> channel(const Tensor& t, int64_t c) { return t.select(1, c).contiguous().to_vector<float>(); }

void check_values(const std::vector<float>& got, const std::vector<float>& want, double tol = 2e-6) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol).scale(1.0));
}

// One golden case: inputs, then outputs, running statistics and gradients compared with PyTorch's.
void run_case(const nlohmann::json& c) {
  INFO("case: ", c.at("name").get<std::string>());
  using test::Golden;
  const bool training = c.at("training"), affine = c.at("affine");
  const double momentum = c.at("momentum"), eps = c.at("eps");
  Tensor x = Golden::tensor(c.at("x")).requires_grad_();
  Tensor rm, rv, w, b;
  if (c.contains("running_mean_in")) {
    rm = Golden::tensor(c.at("running_mean_in"));
    rv = Golden::tensor(c.at("running_var_in"));
  }
  if (affine) {
    w = Golden::tensor(c.at("weight")).requires_grad_();
    b = Golden::tensor(c.at("bias")).requires_grad_();
  }
  Tensor y = batch_norm(x, rm, rv, w, b, training, momentum, eps);
  CHECK_CLOSE(y, Golden::tensor(c.at("out")), 1e-5, 1e-6);
  if (rm.defined()) {
    CHECK_CLOSE(rm, Golden::tensor(c.at("running_mean_out")), 1e-5, 1e-6);
    CHECK_CLOSE(rv, Golden::tensor(c.at("running_var_out")), 1e-5, 1e-6);
  }
  y.backward(Golden::tensor(c.at("grad_out")));
  CHECK_CLOSE(x.grad(), Golden::tensor(c.at("grad_x")), 1e-5, 1e-6);
  if (affine) {
    CHECK_CLOSE(w.grad(), Golden::tensor(c.at("grad_weight")), 1e-5, 1e-6);
    CHECK_CLOSE(b.grad(), Golden::tensor(c.at("grad_bias")), 1e-5, 1e-6);
  }
}

}  // namespace

TEST_CASE("batch_norm: the worked example of docs/batchnorm_spec.md") {
  Tensor x = arange(16).view({2, 2, 2, 2}).requires_grad_();
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor w = ones({2}).requires_grad_(), b = zeros({2}).requires_grad_();
  Tensor y = batch_norm(x, rm, rv, w, b, true);
  check_values(channel(y.detach(), 0), {-1.324244f, -1.083472f, -0.842701f, -0.601929f, 0.601929f, 0.842701f,
                                        1.083472f, 1.324244f});
  check_values(rm.to_vector<float>(), {0.55f, 0.95f});
  check_values(rv.to_vector<float>(), {2.871429f, 2.871429f});
  // g = (arange(16) mod 3) - 1
  std::vector<float> gv;
  for (int i = 0; i < 16; ++i) gv.push_back(static_cast<float>(i % 3 - 1));
  y.backward(from_vector(gv, {2, 2, 2, 2}));
  check_values(w.grad().to_vector<float>(), {2.166945f, -1.083472f});
  check_values(b.grad().to_vector<float>(), {0.f, -1.f});
  check_values(channel(x.grad(), 0), {-0.154408f, 0.070661f, 0.295730f, -0.201515f, 0.201515f, -0.295730f,
                                      -0.070661f, 0.154408f});
  // Then eval mode on the same x, with the updated running statistics.
  Tensor e = batch_norm(x.detach(), rm, rv, w, b, false);
  check_values(channel(e.detach(), 0), {-0.324573f, 0.265560f, 0.855694f, 1.445827f, 4.396494f, 4.986628f,
                                        5.576761f, 6.166895f});
  check_values(rm.to_vector<float>(), {0.55f, 0.95f});  // eval leaves the buffers alone
}

TEST_CASE("batch_norm matches PyTorch: (N,C,H,W), (N,C), (N,C,L) in train and eval mode") {
  test::Golden g("batch_norm.json");
  int n = 0;
  for (const auto& c : g.at("cases").at("single")) {
    run_case(c);
    ++n;
  }
  CHECK(n >= 12);
}

TEST_CASE("batch_norm running statistics over consecutive training batches (momentum 0.1 and 0.3)") {
  test::Golden g("batch_norm.json");
  for (const auto& seq : g.at("cases").at("sequences")) {
    const double momentum = seq.at("momentum");
    INFO("momentum ", momentum);
    Tensor rm = zeros({3}), rv = ones({3});
    for (const auto& step : seq.at("steps")) {
      Tensor y = batch_norm(test::Golden::tensor(step.at("x")), rm, rv, Tensor(), Tensor(), true, momentum);
      CHECK_CLOSE(y, test::Golden::tensor(step.at("out")), 1e-5, 1e-6);
      CHECK_CLOSE(rm, test::Golden::tensor(step.at("running_mean")), 1e-5, 1e-6);
      CHECK_CLOSE(rv, test::Golden::tensor(step.at("running_var")), 1e-5, 1e-6);
    }
  }
}

TEST_CASE("batch_norm with momentum 1/k keeps the cumulative average (momentum = none)") {
  manual_seed(40);
  Tensor rm = zeros({2}), rv = ones({2});
  std::vector<double> means(2, 0.0), vars(2, 0.0);
  for (int k = 1; k <= 3; ++k) {
    Tensor x = add(mul(randn({4, 2, 3}), double(k)), double(k));
    batch_norm(x, rm, rv, Tensor(), Tensor(), true, 1.0 / k);
    std::vector<float> m = mean(x, {0, 2}).to_vector<float>(), v = var(x, {0, 2}).to_vector<float>();
    for (int c = 0; c < 2; ++c) {
      means[c] += m[c] / 3.0;
      vars[c] += v[c] / 3.0;
    }
  }
  for (int c = 0; c < 2; ++c) {
    CHECK(rm.to_vector<float>()[c] == doctest::Approx(means[c]).epsilon(1e-5));
    CHECK(rv.to_vector<float>()[c] == doctest::Approx(vars[c]).epsilon(1e-5));
  }
}

TEST_CASE("gradient checks: batch_norm in training mode, with and without affine") {
  manual_seed(41);
  auto train = [](const V& v) {
    Tensor rm = zeros({v[0].size(1)}), rv = ones({v[0].size(1)});  // fresh buffers on every call
    return batch_norm(v[0], rm, rv, v.size() > 1 ? v[1] : Tensor(), v.size() > 2 ? v[2] : Tensor(), true);
  };
  test::gradcheck(train, {test::leaf({3, 2, 3, 3}), test::leaf({2}, 1.0), test::leaf({2})});
  test::gradcheck(train, {test::leaf({5, 3}), test::leaf({3}, 1.0), test::leaf({3})});
  test::gradcheck(train, {test::leaf({2, 3, 4}), test::leaf({3}, 1.0), test::leaf({3})});
  test::gradcheck(train, {test::leaf({1, 2, 2, 3}), test::leaf({2}, 1.0), test::leaf({2})});  // N = 1, H·W > 1
  test::gradcheck(train, {test::leaf({4, 3, 2})});                                            // no affine
  test::gradcheck([](const V& v) { return batch_norm(v[0], Tensor(), Tensor(), v[1], Tensor(), true); },
                  {test::leaf({3, 2, 2}), test::leaf({2}, 1.0)});  // no running stats, weight only
}

TEST_CASE("gradient checks: batch_norm in eval mode, with and without affine") {
  manual_seed(42);
  Tensor rm = from_vector(std::vector<float>{0.3f, -0.2f, 0.1f}), rv = from_vector(std::vector<float>{0.8f, 1.5f, 0.6f});
  auto eval = [&](const V& v) {
    return batch_norm(v[0], rm, rv, v.size() > 1 ? v[1] : Tensor(), v.size() > 2 ? v[2] : Tensor(), false);
  };
  test::gradcheck(eval, {test::leaf({2, 3, 2, 2}), test::leaf({3}, 1.0), test::leaf({3})});
  test::gradcheck(eval, {test::leaf({4, 3}), test::leaf({3}, 1.0), test::leaf({3})});
  test::gradcheck(eval, {test::leaf({1, 3})});  // one value per channel is fine in eval mode
  CHECK(equal(rm, from_vector(std::vector<float>{0.3f, -0.2f, 0.1f})));
}

TEST_CASE("batch_norm errors: one value per channel, channel mismatch, eval without running stats") {
  Tensor rm = zeros({3}), rv = ones({3});
  CHECK_THROWS_WITH_AS(batch_norm(ones({1, 3, 1, 1}), rm, rv, Tensor(), Tensor(), true),
                       doctest::Contains("Expected more than 1 value per channel when training, got input size "
                                         "[1, 3, 1, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("got input size [1, 3]"), Error);
  CHECK(batch_norm(ones({1, 3}), rm, rv, Tensor(), Tensor(), false).shape() == Shape{1, 3});
  Tensor y = batch_norm(randn({1, 3, 2, 2}), rm, rv, Tensor(), Tensor(), true);  // N = 1, H·W = 4 works
  for (float v : y.to_vector<float>()) CHECK(std::isfinite(v));
  CHECK_THROWS_WITH_AS(batch_norm(ones({2, 4, 3}), rm, rv, Tensor(), Tensor(), true),
                       doctest::Contains("running_mean has 3 values (shape [3]) but the input (shape [2, 4, 3]) "
                                         "has 4 channels"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({2, 3}), rm, rv, ones({4}), Tensor(), true),
                       doctest::Contains("weight has 4 values"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("eval mode"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({3}), rm, rv, Tensor(), Tensor(), true), doctest::Contains("[3]"), Error);
}

TEST_CASE("batch_norm refuses a NaN or Inf training batch and leaves the running statistics unchanged") {
  manual_seed(43);
  Tensor rm = from_vector(std::vector<float>{0.1f, 0.2f, 0.3f}), rv = from_vector(std::vector<float>{1.1f, 1.2f, 1.3f});
  Tensor rm0 = rm.clone(), rv0 = rv.clone();
  for (float bad : {NAN, INFINITY}) {
    Tensor x = randn({2, 3, 4, 4});
    x.data<float>()[20] = bad;  // channel 1
    CHECK_THROWS_WITH_AS(batch_norm(x, rm, rv, Tensor(), Tensor(), true),
                         doctest::Contains("input shape [2, 3, 4, 4]"), Error);
    CHECK_THROWS_WITH_AS(batch_norm(x, rm, rv, Tensor(), Tensor(), true),
                         doctest::Contains("running statistics were left unchanged"), Error);
    CHECK(equal(rm, rm0));
    CHECK(equal(rv, rv0));
    // Without running statistics, the NaN simply propagates (as PyTorch).
    Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
    CHECK(std::isnan(y.select(1, 1).contiguous().to_vector<float>()[3]));
  }
}

TEST_CASE("batch_norm running statistics get no gradient, and update even without grad mode") {
  manual_seed(44);
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor x = test::leaf({4, 2, 3}), w = test::leaf({2}, 1.0), b = test::leaf({2});
  Tensor y = batch_norm(x, rm, rv, w, b, true);
  sum(mul(y, y)).backward();
  CHECK(!rm.grad().defined());
  CHECK(!rv.grad().defined());
  CHECK(!rm.requires_grad());
  CHECK(x.grad().defined());
  {
    NoGradGuard no_grad;
    Tensor before = rm.clone();
    batch_norm(x, rm, rv, w, b, true);
    CHECK(!equal(rm, before));  // no-grad mode does not stop the update; only eval mode does
  }
  // The in-place update is visible to autograd's version counter.
  Tensor m = zeros({2}), v = ones({2});
  uint64_t version = m.impl()->storage->version;
  batch_norm(randn({3, 2}), m, v, Tensor(), Tensor(), true);
  CHECK(m.impl()->storage->version > version);
}

TEST_CASE("batch_norm is bit-identical at 1 and 2 threads") {
  manual_seed(45);
  Tensor x4 = add(mul(randn({16, 8, 24, 24}), 2.0), 1.0);
  Tensor x2 = randn({256, 64});
  Tensor w4 = test::leaf({8}, 1.0), b4 = test::leaf({8});
  Tensor g4 = randn(x4.shape()), g2 = randn(x2.shape());
  auto run = [&](bool training) {
    Tensor a = x4.clone().requires_grad_(), c = x2.clone().requires_grad_();
    w4.set_grad(Tensor());
    b4.set_grad(Tensor());
    Tensor rm4 = full({8}, 0.1), rv4 = full({8}, 2.0), rm2 = zeros({64}), rv2 = ones({64});
    Tensor y4 = batch_norm(a, rm4, rv4, w4, b4, training, 0.3);
    Tensor y2 = batch_norm(c, rm2, rv2, Tensor(), Tensor(), training);
    y4.backward(g4);
    y2.backward(g2);
    return V{y4.detach(), y2.detach(), rm4, rv4, rm2, rv2, a.grad(), c.grad(), w4.grad(), b4.grad()};
  };
  for (bool training : {true, false}) {
    set_num_threads(1);
    V one = run(training);
    set_num_threads(2);
    V two = run(training);
    set_num_threads(0);
    for (size_t i = 0; i < one.size(); ++i) {
      INFO("training ", training, " result ", i);
      CHECK(equal(one[i], two[i]));
    }
  }
}
