// Unary ops and reductions: values and gradients against PyTorch (tests/data/unary_reduce.json),
// finite-difference gradient checks, non-contiguous inputs, special values and error messages.
#include <limits>
#include <map>

#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;
using json = nlohmann::json;

namespace {

using UnaryFn = std::function<Tensor(const Tensor&)>;

// The ops named as in tools/golden/unary_reduce.py.
const std::map<std::string, UnaryFn>& unary_ops() {
  static const std::map<std::string, UnaryFn> ops = {
      {"neg", [](const Tensor& v) { return neg(v); }},
      {"pow2", [](const Tensor& v) { return pow(v, 2.0); }},
      {"pow3", [](const Tensor& v) { return pow(v, 3.0); }},
      {"pow0", [](const Tensor& v) { return pow(v, 0.0); }},
      {"pow0.5", [](const Tensor& v) { return pow(v, 0.5); }},
      {"pow-1.5", [](const Tensor& v) { return pow(v, -1.5); }},
      {"sqrt", [](const Tensor& v) { return sqrt(v); }},
      {"exp", [](const Tensor& v) { return exp(v); }},
      {"log", [](const Tensor& v) { return log(v); }},
      {"abs", [](const Tensor& v) { return abs(v); }},
      {"clamp", [](const Tensor& v) { return clamp(v, -0.5, 0.7); }},
      {"relu", [](const Tensor& v) { return relu(v); }},
      {"leaky_relu", [](const Tensor& v) { return leaky_relu(v); }},
      {"leaky_relu0.2", [](const Tensor& v) { return leaky_relu(v, 0.2); }},
      {"sigmoid", [](const Tensor& v) { return sigmoid(v); }},
      {"tanh", [](const Tensor& v) { return tanh(v); }},
  };
  return ops;
}

// Checks fn(x) and d sum(fn(x) * w)/dx against a golden {"y", "w", "gx"} record.
void check_against(const json& rec, const Tensor& x0, const UnaryFn& fn) {
  Tensor x = x0.detach().clone().requires_grad_();
  Tensor y = fn(x);
  Tensor expected = test::Golden::tensor(rec.at("y"));
  REQUIRE(y.shape() == expected.shape());
  CHECK_CLOSE(y, expected, 1e-5, 1e-6);
  sum(mul(y, test::Golden::tensor(rec.at("w")))).backward();
  REQUIRE(x.grad().defined());
  CHECK_CLOSE(x.grad(), test::Golden::tensor(rec.at("gx")), 1e-5, 1e-6);
}

// randn values moved at least `margin` away from every kink, as a leaf that requires grad.
Tensor away_from(const Shape& shape, std::vector<float> kinks, float margin = 0.05f) {
  std::vector<float> v = randn(shape).to_vector<float>();
  for (float& x : v)
    for (float k : kinks)
      if (std::fabs(x - k) < margin) x = x < k ? k - margin : k + margin;
  return from_vector(v, shape).requires_grad_();
}

// Values in [0.5, 1.5), as a leaf that requires grad.
Tensor positive_leaf(const Shape& shape) {
  Tensor t = rand(shape);
  t.add_(full(shape, 0.5));
  return t.requires_grad_();
}

}  // namespace

// ---------------------------------------------------------------- unary ops

TEST_CASE("unary ops match PyTorch on plain and transposed inputs, values and gradients") {
  test::Golden g("unary_reduce.json");
  const json& cases = g.at("cases").at("unary");
  CHECK(cases.size() == unary_ops().size());
  for (const auto& [name, c] : cases.items()) {
    INFO("op ", name);
    REQUIRE(unary_ops().count(name) == 1);
    const UnaryFn& fn = unary_ops().at(name);
    Tensor x = test::Golden::tensor(c.at("x"));
    check_against(c.at("plain"), x, fn);
    check_against(c.at("transposed"), x, [&fn](const Tensor& v) { return fn(v.t()); });
  }
}

TEST_CASE("gradient checks: unary ops, on inputs away from their kinks") {
  manual_seed(21);
  auto check = [](const UnaryFn& fn, const Tensor& x) {
    test::gradcheck([&fn](const V& v) { return fn(v[0]); }, {x});
  };
  check([](const Tensor& v) { return neg(v); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 2.0); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 3.0); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 0.0); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 1.0); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 0.5); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, -1.5); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return pow(v, 2.5); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return sqrt(v); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return log(v); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return exp(v); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return abs(v); }, away_from({3, 4}, {0.f}));
  check([](const Tensor& v) { return clamp(v, -0.5, 0.7); }, away_from({4, 5}, {-0.5f, 0.7f}));
  check([](const Tensor& v) { return relu(v); }, away_from({3, 4}, {0.f}));
  check([](const Tensor& v) { return leaky_relu(v); }, away_from({3, 4}, {0.f}));
  check([](const Tensor& v) { return leaky_relu(v, 0.3); }, away_from({3, 4}, {0.f}));
  check([](const Tensor& v) { return sigmoid(v); }, test::leaf({3, 4}));
  check([](const Tensor& v) { return tanh(v); }, test::leaf({3, 4}));
  // Non-contiguous inputs and chains.
  check([](const Tensor& v) { return sigmoid(v.t()); }, test::leaf({4, 3}));
  check([](const Tensor& v) { return abs(v.permute({1, 0})); }, away_from({4, 3}, {0.f}));
  check([](const Tensor& v) { return log(v.slice(1, 0, 4, 2)); }, positive_leaf({3, 4}));
  check([](const Tensor& v) { return tanh(exp(neg(v))); }, test::leaf({5}));
}

TEST_CASE("unary ops: kinks, special values and extremes follow PyTorch") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // Gradients at the kinks: abs'(0) = 0, relu'(0) = 0, leaky_relu'(0) = slope, clamp passes at the bounds.
  auto grad_at = [](const UnaryFn& fn, std::vector<float> values) {
    Tensor x = from_vector(values).requires_grad_();
    sum(fn(x)).backward();
    return x.grad().to_vector<float>();
  };
  CHECK(grad_at([](const Tensor& v) { return abs(v); }, {0.f, -2.f, 3.f}) == std::vector<float>{0, -1, 1});
  CHECK(grad_at([](const Tensor& v) { return relu(v); }, {0.f, -2.f, 3.f}) == std::vector<float>{0, 0, 1});
  CHECK(grad_at([](const Tensor& v) { return leaky_relu(v, 0.25); }, {0.f, -2.f, 3.f}) ==
        std::vector<float>{0.25f, 0.25f, 1});
  CHECK(grad_at([](const Tensor& v) { return clamp(v, -1, 1); }, {-1.f, 1.f, -1.5f, 1.5f, 0.f}) ==
        std::vector<float>{1, 1, 0, 0, 1});
  CHECK(grad_at([](const Tensor& v) { return pow(v, 0.0); }, {0.f, 2.f}) == std::vector<float>{0, 0});
  CHECK(grad_at([](const Tensor& v) { return sqrt(v); }, {0.f})[0] == inf);

  // NaN propagates through relu (as torch.relu), clamp and abs; extremes saturate without NaN.
  std::vector<float> r = relu(from_vector(std::vector<float>{nan, -1.f, 2.f})).to_vector<float>();
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == 0.f);
  CHECK(std::isnan(clamp(from_vector(std::vector<float>{nan}), 0, 1).item()));
  CHECK(std::isnan(abs(from_vector(std::vector<float>{nan})).item()));
  CHECK(clamp(from_vector(std::vector<float>{-inf, inf}), -2, 3).to_vector<float>() == std::vector<float>{-2, 3});
  CHECK(sigmoid(from_vector(std::vector<float>{-200.f, 200.f, 0.f})).to_vector<float>() ==
        std::vector<float>{0.f, 1.f, 0.5f});
  CHECK(tanh(from_vector(std::vector<float>{-50.f, 50.f})).to_vector<float>() == std::vector<float>{-1.f, 1.f});
  CHECK(exp(from_vector(std::vector<float>{100.f})).item() == inf);
  CHECK(log(from_vector(std::vector<float>{0.f})).item() == -inf);
  CHECK(std::isnan(log(from_vector(std::vector<float>{-1.f})).item()));
  CHECK(std::isnan(sqrt(from_vector(std::vector<float>{-1.f})).item()));
  CHECK(pow(from_vector(std::vector<float>{0.f, 3.f}), 0.0).to_vector<float>() == std::vector<float>{1, 1});

  // 0-d and empty inputs keep their shapes.
  CHECK(exp(scalar_tensor(0.0)).shape() == Shape{});
  CHECK(exp(scalar_tensor(0.0)).item() == 1.f);
  CHECK(relu(zeros({0, 3})).shape() == Shape{0, 3});
}

TEST_CASE("unary ops: errors name the op and the problem") {
  Tensor i = arange(3, Dtype::Int64);
  CHECK_THROWS_WITH_AS(relu(i), "relu: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(exp(i), "exp: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(pow(i, 2.0), "pow: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(clamp(ones({2}), 2, 1), "clamp: min 2 is greater than max 1", Error);
}

// ---------------------------------------------------------------- reductions

namespace {

Tensor apply_reduction(const json& c, const Tensor& v) {
  const std::string op = c.at("op");
  const json& dims = c.at("dims");
  const bool keepdim = c.at("keepdim");
  if (op == "sum") return dims.is_null() ? sum(v) : sum(v, dims.get<std::vector<int64_t>>(), keepdim);
  if (op == "mean") return dims.is_null() ? mean(v) : mean(v, dims.get<std::vector<int64_t>>(), keepdim);
  if (op == "var") return var(v, dims.get<std::vector<int64_t>>(), c.at("unbiased").get<bool>(), keepdim);
  if (op == "max") return dims.is_null() ? max(v) : max(v, dims.get<int64_t>(), keepdim);
  FAIL("unknown op ", op);
  return {};
}

}  // namespace

TEST_CASE("reductions match PyTorch: values, keepdim shapes, gradients, argmax with ties") {
  test::Golden g("unary_reduce.json");
  const json& all = g.at("cases");
  const json& inputs = all.at("inputs");
  int checked = 0;
  for (const json& c : all.at("reductions")) {
    const std::string input = c.at("input");
    INFO(c.at("op").get<std::string>(), " of ", input, " over ", c.at("dims").dump(), " keepdim ",
         c.at("keepdim").get<bool>(), " unbiased ", c.at("unbiased").dump());
    // "xt" is x.permute(2, 0, 1): a non-contiguous view.
    const bool permuted = input == "xt";
    Tensor x = test::Golden::tensor(inputs.at(permuted ? "x" : input)).requires_grad_();
    Tensor v = permuted ? x.permute({2, 0, 1}) : x;
    Tensor y = apply_reduction(c, v);
    Tensor expected = test::Golden::tensor(c.at("y"));
    REQUIRE(y.shape() == expected.shape());
    CHECK_CLOSE(y, expected, 1e-5, 1e-6);
    sum(mul(y, test::Golden::tensor(c.at("w")))).backward();
    CHECK_CLOSE(x.grad(), test::Golden::tensor(c.at("gx")), 1e-5, 1e-6);
    if (c.contains("argmax")) {
      Tensor idx = argmax(v, c.at("dims").get<int64_t>(), c.at("keepdim").get<bool>());
      CHECK(idx.dtype() == Dtype::Int64);
      CHECK(equal(idx, test::Golden::tensor(c.at("argmax"))));
    }
    ++checked;
  }
  CHECK(checked > 100);
}

TEST_CASE("gradient checks: reductions over one, several, negative and all dims, keepdim, transposed") {
  manual_seed(23);
  using R = std::function<Tensor(const Tensor&)>;
  std::vector<R> fns = {
      [](const Tensor& v) { return sum(v); },
      [](const Tensor& v) { return sum(v, {1}); },
      [](const Tensor& v) { return sum(v, {0, 2}, true); },
      [](const Tensor& v) { return sum(v, {-1, -3}); },
      [](const Tensor& v) { return mean(v); },
      [](const Tensor& v) { return mean(v, {-1}); },
      [](const Tensor& v) { return mean(v, {2, 0}, true); },
      [](const Tensor& v) { return var(v, {1}); },
      [](const Tensor& v) { return var(v, {1}, false); },
      [](const Tensor& v) { return var(v, {0, 2}, true, true); },
      [](const Tensor& v) { return var(v, {-1, 0}, false, false); },
      [](const Tensor& v) { return var(v, {0, 1, 2}); },
      [](const Tensor& v) { return max(v); },
      [](const Tensor& v) { return max(v, 0); },
      [](const Tensor& v) { return max(v, -1, true); },
      [](const Tensor& v) { return max(v, 1); },
  };
  for (size_t k = 0; k < fns.size(); ++k) {
    INFO("reduction ", k);
    const R& fn = fns[k];
    test::gradcheck([&fn](const V& v) { return fn(v[0]); }, {test::leaf({2, 3, 4})});
    // The same reduction of a non-contiguous (transposed) view.
    test::gradcheck([&fn](const V& v) { return fn(v[0].transpose(0, 2)); }, {test::leaf({4, 3, 2})});
  }
  // Reductions inside expressions: a normalization, as batch norm computes it.
  test::gradcheck(
      [](const V& v) {
        Tensor mu = mean(v[0], {0, 2}, true);
        return div(sub(v[0], mu), sqrt(add(var(v[0], {0, 2}, false, true), 1e-5)));
      },
      {test::leaf({3, 2, 4})});
  test::gradcheck([](const V& v) { return sum_to_shape(v[0], {3, 1}); }, {test::leaf({2, 3, 4})});
  test::gradcheck([](const V& v) { return sum_to_shape(v[0], {4}); }, {test::leaf({2, 3, 4})});
  test::gradcheck([](const V& v) { return sum_to_shape(v[0], {2, 1, 4}); }, {test::leaf({2, 3, 4})});
}

TEST_CASE("sum_to_shape matches PyTorch's sum_to_size and returns g itself when the shape is equal") {
  test::Golden gold("unary_reduce.json");
  const json& s = gold.at("cases").at("sum_to_shape");
  Tensor g = test::Golden::tensor(s.at("g"));
  for (const json& c : s.at("cases")) {
    Shape shape = c.at("shape").get<Shape>();
    INFO("to ", shape_str(shape));
    Tensor y = sum_to_shape(g, shape);
    CHECK(y.shape() == shape);
    CHECK_CLOSE(y, test::Golden::tensor(c.at("y")), 1e-5, 1e-6);
  }
  CHECK(sum_to_shape(g, g.shape()).same_storage(g));
  CHECK_CLOSE(sum_to_shape(g.transpose(0, 2), {4, 1, 1}), sum(g, {0, 1}).view({4, 1, 1}), 1e-6, 1e-6);
  CHECK_THROWS_WITH_AS(sum_to_shape(ones({2, 3}), {4}), doctest::Contains("sum_to_shape"), Error);
  CHECK_THROWS_WITH_AS(sum_to_shape(ones({2, 3}), {2, 1, 3}),
                       "sum_to_shape: [2, 1, 3] does not broadcast to [2, 3]", Error);
}

TEST_CASE("reductions: keepdim shapes, 0-d and empty inputs") {
  Tensor x = arange(24).view({2, 3, 4});
  CHECK(sum(x, {1}).shape() == Shape{2, 4});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(mean(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(var(x, {-1}, true, true).shape() == Shape{2, 3, 1});
  CHECK(max(x, -2, true).shape() == Shape{2, 1, 4});
  CHECK(argmax(x, 0, true).shape() == Shape{1, 3, 4});
  CHECK(sum(x).shape() == Shape{});
  CHECK(sum(x).item() == 276.f);
  CHECK(max(x).item() == 23.f);
  CHECK(argmax(x, -1).to_vector<int64_t>() == std::vector<int64_t>{3, 3, 3, 3, 3, 3});
  // 0-d: dim 0 and -1 are accepted and reduce nothing (as PyTorch).
  Tensor s = scalar_tensor(3.0);
  CHECK(sum(s, {0}).shape() == Shape{});
  CHECK(sum(s, {-1}, true).item() == 3.f);
  CHECK(mean(s, {0}).item() == 3.f);
  CHECK(max(s, 0).item() == 3.f);
  CHECK(max(s).item() == 3.f);
  CHECK(argmax(s, -1).item<int64_t>() == 0);
  CHECK(var(s, {0}, false).item() == 0.f);
  Tensor sl = scalar_tensor(2.0).requires_grad_();
  mul(sum(sl, {0}), 5.0).backward();
  CHECK(sl.grad().item() == 5.f);
  // Empty inputs: sums over empty dims are 0.
  CHECK(sum(zeros({0, 3}), {0}).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(sum(zeros({0})).item() == 0.f);
  CHECK(mean(zeros({0, 3}), {1}).shape() == Shape{0});
}

TEST_CASE("max and argmax: the first maximum wins, NaN counts as the maximum") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = from_vector(std::vector<float>{1, 3, 3, 2, 5, 5, 0, 5}, {2, 4});
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  Tensor a = x.detach().clone().requires_grad_();
  sum(max(a, 1)).backward();
  CHECK(a.grad().to_vector<float>() == std::vector<float>{0, 1, 0, 0, 1, 0, 0, 0});
  // The all-elements max shares its gradient among ties, as PyTorch.
  Tensor b = x.detach().clone().requires_grad_();
  mul(max(b), 6.0).backward();
  CHECK(b.grad().to_vector<float>() == std::vector<float>{0, 0, 0, 0, 2, 2, 0, 2});
  Tensor n = from_vector(std::vector<float>{1, nan, 3, nan});
  CHECK(argmax(n, 0).item<int64_t>() == 1);
  CHECK(std::isnan(max(n, 0).item()));
  CHECK(std::isnan(max(n).item()));
  Tensor c = n.detach().clone().requires_grad_();
  max(c).backward();
  CHECK(c.grad().to_vector<float>() == std::vector<float>{0, 0.5f, 0, 0.5f});
  // Through a transposed view.
  Tensor d = x.detach().clone().requires_grad_();
  sum(max(d.t(), 0)).backward();
  CHECK(d.grad().to_vector<float>() == std::vector<float>{0, 1, 0, 0, 1, 0, 0, 0});
}

TEST_CASE("reductions: errors for bad dims, duplicate dims, int64 inputs and empty rows") {
  Tensor x = ones({2, 3, 4});
  CHECK_THROWS_WITH_AS(sum(x, {3}), "sum: dimension out of range (expected to be in range of [-3, 2], but got 3)",
                       Error);
  CHECK_THROWS_WITH_AS(mean(x, {-4}), doctest::Contains("mean: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(var(x, {5}), doctest::Contains("var: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(max(x, 3), doctest::Contains("max: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(argmax(x, -4), doctest::Contains("argmax: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(scalar_tensor(1.0), {1}), doctest::Contains("sum: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, 1}), "sum: dim 1 appears more than once in the list of dims", Error);
  CHECK_THROWS_WITH_AS(sum(x, {2, -1}), "sum: dim -1 appears more than once in the list of dims", Error);
  CHECK_THROWS_WITH_AS(mean(x, {0, -3}), doctest::Contains("mean: dim -3 appears more than once"), Error);
  CHECK_THROWS_WITH_AS(var(x, {1, -2}), doctest::Contains("var: dim -2 appears more than once"), Error);
  Tensor i = arange(6, Dtype::Int64).view({2, 3});
  CHECK_THROWS_WITH_AS(sum(i), "sum: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(sum(i, {0}), "sum: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(mean(i, {0}), "mean: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(var(i, {0}), "var: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(max(i), "max: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(max(i, 0), "max: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(argmax(i, 0), "argmax: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_WITH_AS(var(ones({3, 1}), {1}), doctest::Contains("var: needs more than 1 values per reduced row, got 1"),
                       Error);
  CHECK(var(ones({3, 1}), {1}, false).to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK_THROWS_WITH_AS(max(zeros({0, 2})), doctest::Contains("max: the input is empty (shape [0, 2])"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({2, 0}), 1), doctest::Contains("max: cannot reduce over an empty dimension"), Error);
  CHECK_THROWS_WITH_AS(argmax(zeros({2, 0}), 1), doctest::Contains("argmax: cannot reduce over an empty dimension"),
                       Error);
  CHECK_THROWS_WITH_AS(mean(zeros({2, 0}), {1}), "mean: reducing over an empty dimension of [2, 0]", Error);
}

TEST_CASE("unary ops and reductions, values and gradients, are bit-identical at 1 and 2 threads") {
  manual_seed(3);
  Tensor x = randn({16, 32, 30, 30});
  test::same_bits_at_1_and_2_threads([&] { return sigmoid(x); });
  test::same_bits_at_1_and_2_threads([&] { return mean(x, {0, 2, 3}); });
  test::same_bits_at_1_and_2_threads([&] { return var(x, {0, 2, 3}, false); });
  test::same_bits_at_1_and_2_threads([&] { return var(x.transpose(1, 3), {1, 2}); });
  test::same_bits_at_1_and_2_threads([&] { return max(x, 1); });
  test::same_bits_at_1_and_2_threads([&] { return argmax(x, -1); });
  test::same_bits_at_1_and_2_threads([&] {
    Tensor l = x.detach().clone().requires_grad_();
    sum(mul(var(tanh(l), {0, 2, 3}, true, true), l)).backward();
    return l.grad();
  });
}
