// softmax, log_softmax, cross_entropy, nll_loss, mse_loss and dropout: PyTorch golden values and
// gradients (tests/data/loss.json), finite-difference gradient checks and error messages.
#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;

namespace {

Reduction reduction_of(const std::string& s) {
  return s == "none" ? Reduction::None : (s == "mean" ? Reduction::Mean : Reduction::Sum);
}

// Runs one golden case of loss.json through wick: the output and the input gradients.
void run_golden_case(const nlohmann::json& c) {
  const std::string op = c.at("op"), name = c.at("name");
  const auto& args = c.at("args");
  INFO("case: ", name);
  Tensor x = test::Golden::tensor(c.at("inputs").at("x")).requires_grad_();
  Tensor target;
  if (c.at("inputs").contains("target")) target = test::Golden::tensor(c.at("inputs").at("target"));
  if (op == "mse_loss") target.requires_grad_();
  Tensor out;
  if (op == "softmax") out = softmax(x, args.at("dim").get<int64_t>());
  else if (op == "log_softmax") out = log_softmax(x, args.at("dim").get<int64_t>());
  else if (op == "cross_entropy")
    out = cross_entropy(x, target, reduction_of(args.at("reduction")), args.at("label_smoothing").get<double>(),
                        args.at("ignore_index").get<int64_t>());
  else if (op == "nll_loss")
    out = nll_loss(x, target, reduction_of(args.at("reduction")), args.at("ignore_index").get<int64_t>());
  else if (op == "mse_loss") out = mse_loss(x, target, reduction_of(args.at("reduction")));
  else FAIL("unknown op ", op);
  CHECK_CLOSE(out, test::Golden::tensor(c.at("out")), 1e-5, 1e-6);
  out.backward(test::Golden::tensor(c.at("grad_out")));
  CHECK_CLOSE(x.grad(), test::Golden::tensor(c.at("grads").at("x")), 1e-5, 1e-6);
  if (op == "mse_loss") CHECK_CLOSE(target.grad(), test::Golden::tensor(c.at("grads").at("target")), 1e-5, 1e-6);
}

void run_golden(const std::string& prefix) {
  test::Golden g("loss.json");
  int n = 0;
  for (const auto& c : g.at("cases"))
    if (c.at("op").get<std::string>() == prefix) {
      run_golden_case(c);
      ++n;
    }
  CHECK(n > 0);
}

Tensor targets(std::vector<int64_t> v, const Shape& shape = {}) {
  return from_vector(v, shape.empty() ? Shape{static_cast<int64_t>(v.size())} : shape);
}

}  // namespace

TEST_CASE("softmax and log_softmax match PyTorch over several dims") {
  run_golden("softmax");
  run_golden("log_softmax");
}

TEST_CASE("softmax is stable for large logits and handles small shapes") {
  Tensor x = from_vector(std::vector<float>{1000, 1001, 1002, -1000, -1001, -1002}, {2, 3});
  Tensor y = softmax(x, 1);
  for (float v : y.to_vector<float>()) CHECK(std::isfinite(v));
  CHECK(y.to_vector<float>()[2] == doctest::Approx(0.66524096));
  Tensor ly = log_softmax(x, -1);
  CHECK(ly.to_vector<float>()[0] == doctest::Approx(-2.40760596));
  CHECK(softmax(scalar_tensor(3.0), 0).item() == 1.f);
  CHECK(log_softmax(scalar_tensor(3.0), -1).item() == 0.f);
  CHECK_THROWS_WITH_AS(softmax(ones({2, 3}), 2), doctest::Contains("softmax: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(arange(3, Dtype::Int64), 0), doctest::Contains("float32"), Error);
}

TEST_CASE("gradient checks: softmax and log_softmax over several dims") {
  manual_seed(21);
  for (int64_t dim : {0, 1, 2, -1}) {
    test::gradcheck([dim](const V& v) { return softmax(v[0], dim); }, {test::leaf({3, 4, 5})});
    test::gradcheck([dim](const V& v) { return log_softmax(v[0], dim); }, {test::leaf({3, 4, 5})});
  }
  test::gradcheck([](const V& v) { return softmax(v[0], 0); }, {test::leaf({7})});
  test::gradcheck([](const V& v) { return log_softmax(v[0].t(), 1); }, {test::leaf({4, 3})});
}

TEST_CASE("cross_entropy matches PyTorch: reductions, label smoothing, ignore_index") {
  run_golden("cross_entropy");
}

TEST_CASE("nll_loss and mse_loss match PyTorch") {
  run_golden("nll_loss");
  run_golden("mse_loss");
}

TEST_CASE("gradient checks: cross_entropy for each reduction, label smoothing and ignore_index") {
  manual_seed(22);
  Tensor t = targets({0, 3, 1, 3, 2});
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
    for (double ls : {0.0, 0.25})
      for (int64_t ignore : {-100, 3}) {
        INFO("reduction ", int(r), " label_smoothing ", ls, " ignore_index ", ignore);
        test::gradcheck([&](const V& v) { return cross_entropy(v[0], t, r, ls, ignore); }, {test::leaf({5, 4})});
      }
  Tensor t2 = targets({1, 0, 2, 2, 0, 1}, {2, 3});
  test::gradcheck([&](const V& v) { return cross_entropy(v[0], t2, Reduction::Mean, 0.1, 0); },
                  {test::leaf({2, 3, 3})});
  test::gradcheck([&](const V& v) { return cross_entropy(v[0], from_vector(std::vector<int64_t>{2}, Shape{}),
                                                         Reduction::None); },
                  {test::leaf({4})});
}

TEST_CASE("gradient checks: nll_loss, mse_loss") {
  manual_seed(23);
  Tensor t = targets({2, 0, 1, 2});
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    test::gradcheck([&](const V& v) { return nll_loss(log_softmax(v[0], 1), t, r, 1); }, {test::leaf({4, 3})});
    test::gradcheck([&](const V& v) { return mse_loss(v[0], v[1], r); }, {test::leaf({3, 4}), test::leaf({3, 4})});
  }
}

TEST_CASE("cross_entropy equals nll_loss of log_softmax, and label smoothing follows PyTorch's formula") {
  manual_seed(24);
  Tensor x = randn({6, 5});
  Tensor t = targets({0, 4, 2, 2, 1, 3});
  CHECK_CLOSE(cross_entropy(x, t), nll_loss(log_softmax(x, 1), t), 1e-6, 1e-7);
  // (1 - ε)·nll + ε·mean over classes of −log p
  const double eps = 0.3;
  Tensor lp = log_softmax(x, 1);
  Tensor smooth = mean(neg(lp), {1});
  Tensor expected = add(mul(nll_loss(lp, t, Reduction::None), 1 - eps), mul(smooth, eps));
  CHECK_CLOSE(cross_entropy(x, t, Reduction::None, eps), expected, 1e-5, 1e-6);
  // label_smoothing = 1 is the uniform target.
  CHECK_CLOSE(cross_entropy(x, t, Reduction::None, 1.0), smooth, 1e-5, 1e-6);
}

TEST_CASE("cross_entropy with ignore_index: ignored rows add nothing, all ignored gives NaN for mean") {
  manual_seed(25);
  Tensor x = randn({4, 3}).requires_grad_();
  Tensor t = targets({1, -100, 2, -100});
  Tensor kept = cross_entropy(x.detach().narrow(0, 0, 1), targets({1}), Reduction::Sum);
  Tensor kept2 = cross_entropy(x.detach().narrow(0, 2, 1), targets({2}), Reduction::Sum);
  Tensor loss = cross_entropy(x, t);
  CHECK(loss.item() == doctest::Approx((kept.item() + kept2.item()) / 2).epsilon(1e-6));
  loss.backward();
  std::vector<float> g = x.grad().to_vector<float>();
  for (int j = 3; j < 6; ++j) CHECK(g[j] == 0.f);
  CHECK(cross_entropy(x.detach(), t, Reduction::None).to_vector<float>()[1] == 0.f);

  Tensor all = targets({-100, -100, -100, -100});
  Tensor x2 = randn({4, 3}).requires_grad_();
  Tensor m = cross_entropy(x2, all, Reduction::Mean, 0.2);
  CHECK(std::isnan(m.item()));
  m.backward();
  for (float v : x2.grad().to_vector<float>()) CHECK(v == 0.f);
  CHECK(cross_entropy(x2.detach(), all, Reduction::Sum).item() == 0.f);
  CHECK(std::isnan(nll_loss(x2.detach(), all).item()));
}

TEST_CASE("loss errors name the op, the offending value and the shapes") {
  Tensor x = zeros({3, 4});
  CHECK_THROWS_WITH_AS(cross_entropy(x, targets({0, 4, 1})), doctest::Contains("cross_entropy: target 4 is out of bounds"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, targets({0, -1, 1})), doctest::Contains("target -1 is out of bounds"), Error);
  CHECK_THROWS_WITH_AS(nll_loss(x, targets({0, 1, 7})), doctest::Contains("nll_loss: target 7 is out of bounds"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, targets({0, 1})),
                       doctest::Contains("logits of shape [3, 4] and target of shape [2] do not match"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({3})), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, targets({0, 1, 2}), Reduction::Mean, 1.5),
                       doctest::Contains("label_smoothing must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(zeros({2, 3}), zeros({3})),
                       doctest::Contains("mse_loss: input of shape [2, 3] and target of shape [3]"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, 1.5, true), doctest::Contains("dropout: probability has to be between 0 and 1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, false), doctest::Contains("but got -0.1"), Error);
  // ignore_index itself is allowed even though it is out of range
  CHECK(cross_entropy(x, targets({0, -100, 3})).item() == doctest::Approx(std::log(4.0)));
}

TEST_CASE("dropout: seeded mask, scaling, the same mask in backward, identities") {
  Tensor x = add(rand({50, 40}), 0.5).requires_grad_();
  const double p = 0.3;
  manual_seed(99);
  Tensor y = dropout(x, p, true);
  manual_seed(99);
  CHECK(equal(dropout(x.detach(), p, true), y.detach()));  // manual_seed reproduces the mask
  y.backward(ones(y.shape()));
  std::vector<float> xv = x.detach().to_vector<float>(), yv = y.detach().to_vector<float>(),
                     gv = x.grad().to_vector<float>();
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  int64_t dropped = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool kept = yv[i] != 0.f;
    CHECK((gv[i] == 0.f || gv[i] == scale));
    CHECK(kept == (gv[i] == scale));  // backward uses the forward's mask
    if (kept) CHECK(yv[i] == xv[i] * scale);
    dropped += !kept;
  }
  CHECK(dropped > 500);
  CHECK(dropped < 700);  // ~ 0.3 * 2000
  // p = 0 and eval mode are the identity; p = 1 gives zeros and zero gradients.
  CHECK(dropout(x, 0.0, true).same_storage(x));
  CHECK(equal(dropout(x, 0.7, false), x));
  Tensor z = dropout(x, 1.0, true);
  CHECK(equal(z.detach(), zeros(x.shape())));
  x.set_grad(Tensor());
  sum(z).backward();
  CHECK(equal(x.grad(), zeros(x.shape())));
}

TEST_CASE("gradient checks: dropout with a fixed seed") {
  Tensor x = test::leaf({4, 5});
  test::gradcheck(
      [](const V& v) {
        manual_seed(5);
        return dropout(v[0], 0.4, true);
      },
      {x});
}

TEST_CASE("softmax and cross_entropy are bit-identical at 1 and 2 threads") {
  manual_seed(26);
  Tensor x = randn({512, 200}).requires_grad_();
  Tensor t = randint(0, 200, {512});
  Tensor x3 = randn({8, 50, 300}).requires_grad_();
  auto run = [&] {
    x.set_grad(Tensor());
    x3.set_grad(Tensor());
    Tensor l = add(cross_entropy(x, t, Reduction::Mean, 0.1), sum(mul(softmax(x3, 1), softmax(x3, 2))));
    l.backward();
    return std::vector<Tensor>{l.detach(), x.grad(), x3.grad()};
  };
  set_num_threads(1);
  std::vector<Tensor> one = run();
  set_num_threads(2);
  std::vector<Tensor> two = run();
  set_num_threads(0);
  for (size_t i = 0; i < one.size(); ++i) CHECK(equal(one[i], two[i]));
}
