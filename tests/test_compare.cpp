// Comparisons, where, masked_fill, topk and sort: values (against PyTorch for where, masked_fill
// and topk), broadcasting, dtypes, ties and NaN, error messages, gradchecks, same bits at 1 and 2
// threads.
#include "helpers.h"

using namespace wick;

namespace {

std::vector<float> fv(const Tensor& t) { return t.to_vector<float>(); }
std::vector<int64_t> iv(const Tensor& t) { return t.to_vector<int64_t>(); }

// A leaf of distinct values 0.1 apart in scrambled order, so that gradcheck's finite differences
// never swap two entries of a ranking.
Tensor distinct_leaf(const Shape& shape) {
  const int64_t n = numel_of(shape);
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(0.1f * static_cast<float>((i * 7) % n) - 1.f);
  REQUIRE(n % 7 != 0);
  return from_vector(v, shape).requires_grad_();
}

}  // namespace

// ---------------------------------------------------------------- comparisons

TEST_CASE("comparisons return float32 0/1 masks over the broadcast shape") {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}}), b = tensor({2, 2, 7});
  CHECK(eq(a, b).dtype() == Dtype::Float32);
  CHECK(eq(a, b).shape() == Shape{2, 3});
  CHECK(fv(eq(a, b)) == std::vector<float>{0, 1, 0, 0, 0, 0});
  CHECK(fv(ne(a, b)) == std::vector<float>{1, 0, 1, 1, 1, 1});
  CHECK(fv(lt(a, b)) == std::vector<float>{1, 0, 1, 0, 0, 1});
  CHECK(fv(le(a, b)) == std::vector<float>{1, 1, 1, 0, 0, 1});
  CHECK(fv(gt(a, b)) == std::vector<float>{0, 0, 0, 1, 1, 0});
  CHECK(fv(ge(a, b)) == std::vector<float>{0, 1, 0, 1, 1, 0});
  // Against scalars, and on a non-contiguous view.
  CHECK(fv(gt(a, 3.5)) == std::vector<float>{0, 0, 0, 1, 1, 1});
  CHECK(fv(eq(a.t(), 2)) == std::vector<float>{0, 0, 1, 0, 0, 0});
  CHECK_FALSE(eq(a, b).requires_grad());
  CHECK_FALSE(lt(test::leaf({3}), 0.0).requires_grad());
}

TEST_CASE("comparisons of int64 tensors, int64 with float32, and NaN") {
  Tensor labels = tensor({0, 3, 2}, Dtype::Int64), pred = tensor({0, 1, 2}, Dtype::Int64);
  CHECK(fv(eq(labels, pred)) == std::vector<float>{1, 0, 1});
  CHECK(fv(eq(labels, tensor({0, 3, 2.5}))) == std::vector<float>{1, 1, 0});
  CHECK(fv(lt(labels, 2.5)) == std::vector<float>{1, 0, 1});  // an int64 tensor against a fraction
  // 2^53 + 1 is exact in int64 and compared exactly against a whole scalar.
  Tensor big = from_vector(std::vector<int64_t>{(int64_t(1) << 53) + 1});
  CHECK(fv(eq(big, 9007199254740992.0)) == std::vector<float>{0});
  // A float32 tensor meets float32(scalar), as in PyTorch: 0.1f == 0.1.
  CHECK(fv(eq(tensor({0.1}), 0.1)) == std::vector<float>{1});
  Tensor nan = tensor({NAN, 1});
  CHECK(fv(eq(nan, nan)) == std::vector<float>{0, 1});
  CHECK(fv(ne(nan, nan)) == std::vector<float>{1, 0});
  CHECK(fv(lt(nan, 2)) == std::vector<float>{0, 1});
}

TEST_CASE("comparison errors name the op and both shapes") {
  CHECK_THROWS_WITH_AS(eq(ones({2, 3}), ones({4})),
                       "eq: shapes [2, 3] and [4] cannot be broadcast together (dimension 1: 3 vs 4)", Error);
  CHECK_THROWS_WITH_AS(ge(ones({2}), ones({3})),
                       "ge: shapes [2] and [3] cannot be broadcast together (dimension 0: 2 vs 3)", Error);
}

// ---------------------------------------------------------------- where, masked_fill

TEST_CASE("where and masked_fill match PyTorch, gradients included") {
  test::Golden g("compare.json");
  const auto& w = g.at("cases").at("where");
  Tensor a = test::Golden::tensor(w.at("a")).requires_grad_(), b = test::Golden::tensor(w.at("b")).requires_grad_();
  Tensor out = where(test::Golden::tensor(w.at("cond")), a, b);
  CHECK(equal(out, test::Golden::tensor(w.at("out"))));
  sum(mul(out, test::Golden::tensor(w.at("w")))).backward();
  CHECK_CLOSE(a.grad(), test::Golden::tensor(w.at("g0")), 1e-6, 1e-6);
  CHECK_CLOSE(b.grad(), test::Golden::tensor(w.at("g1")), 1e-6, 1e-6);

  const auto& m = g.at("cases").at("masked_fill");
  Tensor x = test::Golden::tensor(m.at("x")).requires_grad_();
  Tensor filled = masked_fill(x, test::Golden::tensor(m.at("mask")), -1.5);
  CHECK(equal(filled, test::Golden::tensor(m.at("out"))));
  sum(mul(filled, test::Golden::tensor(m.at("w")))).backward();
  CHECK(equal(x.grad(), test::Golden::tensor(m.at("g0"))));
}

TEST_CASE("where takes int64 and float conditions, gradchecks of where and masked_fill") {
  Tensor a = tensor({1, 2, 3}), b = tensor({-1, -2, -3});
  CHECK(fv(where(tensor({1, 0, 5}, Dtype::Int64), a, b)) == std::vector<float>{1, -2, 3});
  CHECK(fv(where(gt(a, 1.5), a, b)) == std::vector<float>{-1, 2, 3});
  Tensor cond = gt(randn({3, 1}), 0.0);
  test::gradcheck([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                  {test::leaf({3, 4}), test::leaf({4})});
  Tensor mask = gt(randn({1, 4}), 0.0);
  test::gradcheck([&](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 2.0); }, {test::leaf({3, 4})});
}

TEST_CASE("where and masked_fill errors name the op and the shapes") {
  CHECK_THROWS_WITH_AS(where(ones({2}), ones({3}), ones({3})),
                       "where: cond [2], a [3] and b [3] cannot be broadcast together", Error);
  CHECK_THROWS_WITH_AS(where(ones({3}), ones({3}, Dtype::Int64), ones({3})),
                       "where: a and b must be float32, got int64 and float32", Error);
  CHECK_THROWS_WITH_AS(masked_fill(ones({3}), ones({2, 3}), 0.0),
                       "masked_fill: mask of shape [2, 3] does not broadcast to the input's shape [3]", Error);
  CHECK_THROWS_WITH_AS(masked_fill(ones({3}, Dtype::Int64), ones({3}), 0.0),
                       "masked_fill: expects a float32 input, got int64", Error);
}

// ---------------------------------------------------------------- topk, sort, argsort

TEST_CASE("topk matches PyTorch along every dim, largest and smallest, gradients included") {
  test::Golden g("compare.json");
  const auto& c = g.at("cases").at("topk");
  for (const auto& run : c.at("runs")) {
    const int64_t dim = run.at("dim"), k = run.at("k");
    const bool largest = run.at("largest");
    CAPTURE(dim);
    CAPTURE(largest);
    Tensor x = test::Golden::tensor(c.at("x")).requires_grad_();
    auto [values, indices] = topk(x, k, dim, largest);
    CHECK(equal(values, test::Golden::tensor(run.at("values"))));
    CHECK(equal(indices, test::Golden::tensor(run.at("indices"))));
    sum(mul(values, test::Golden::tensor(run.at("w")))).backward();
    CHECK(equal(x.grad(), test::Golden::tensor(run.at("g0"))));
  }
}

TEST_CASE("topk ties: lowest index first, NaN above every number, k = 0") {
  Tensor x = tensor({{1, 3, 3, 0, 3}, {2, 2, 2, 2, 2}});
  auto [v, i] = topk(x, 3, 1);
  CHECK(fv(v) == std::vector<float>{3, 3, 3, 2, 2, 2});
  CHECK(iv(i) == std::vector<int64_t>{1, 2, 4, 0, 1, 2});
  CHECK(iv(topk(x, 2, 1, false).indices) == std::vector<int64_t>{3, 0, 0, 1});
  Tensor n = tensor({1, NAN, 5});
  CHECK(iv(topk(n, 2).indices) == std::vector<int64_t>{1, 2});
  CHECK(iv(topk(n, 3, 0, false).indices) == std::vector<int64_t>{0, 2, 1});
  CHECK(topk(x, 0, 1).values.shape() == Shape{2, 0});
  CHECK(topk(x, 0, 1).indices.dtype() == Dtype::Int64);
}

TEST_CASE("topk gradcheck (through the values), and the same bits at 1 and 2 threads") {
  test::gradcheck([](const std::vector<Tensor>& in) { return topk(in[0], 2, 0).values; }, {distinct_leaf({5, 3})});
  test::gradcheck([](const std::vector<Tensor>& in) { return topk(in[0].t(), 3, -1, false).values; },
                  {distinct_leaf({4, 6})});
  Tensor big = randn({300, 200});
  test::same_bits_at_1_and_2_threads([&] { return topk(big, 7, 1).indices; });
  test::same_bits_at_1_and_2_threads([&] { return topk(big, 5, 0).values; });
}

TEST_CASE("sort is stable in both directions, argsort gives its indices") {
  Tensor x = tensor({{3, 1, 2, 1}, {0, 5, 5, -1}});
  auto [v, i] = sort(x, 1);
  CHECK(fv(v) == std::vector<float>{1, 1, 2, 3, -1, 0, 5, 5});
  CHECK(iv(i) == std::vector<int64_t>{1, 3, 2, 0, 3, 0, 1, 2});
  CHECK(iv(sort(x, 1, true).indices) == std::vector<int64_t>{0, 2, 1, 3, 1, 2, 0, 3});
  CHECK(equal(argsort(x, 0), sort(x, 0).indices));
  test::gradcheck([](const std::vector<Tensor>& in) { return sort(in[0], 0, true).values; }, {distinct_leaf({4, 3})});
}

TEST_CASE("topk and sort errors name the op and the shape") {
  CHECK_THROWS_WITH_AS(topk(ones({2, 3}), 4, 1), "topk: k = 4 is out of range for dimension 1 of size 3 (shape [2, 3])",
                       Error);
  CHECK_THROWS_WITH_AS(topk(ones({2, 3}), -1, 0),
                       "topk: k = -1 is out of range for dimension 0 of size 2 (shape [2, 3])", Error);
  CHECK_THROWS_WITH_AS(topk(scalar_tensor(1), 1), "topk: expects a tensor with at least one dimension, got a 0-d tensor",
                       Error);
  CHECK_THROWS_WITH_AS(sort(ones({3}, Dtype::Int64)), "sort: expects a float32 tensor, got int64", Error);
  CHECK_THROWS_AS(argsort(ones({3}), 2), Error);
}
