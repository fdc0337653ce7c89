// The libtorch spellings on Tensor: method forms of the reductions and comparisons, the one-line
// accuracy count, and the tensor({...}) / from_vector({...}) literals.
#include "helpers.h"

using namespace wick;

TEST_CASE("method forms give the free functions' results") {
  Tensor x = randn({3, 4, 5});
  CHECK(equal(x.sum(), sum(x)));
  CHECK(equal(x.sum(1), sum(x, {1})));
  CHECK(equal(x.sum({0, 2}, true), sum(x, {0, 2}, true)));
  CHECK(equal(x.mean(), mean(x)));
  CHECK(equal(x.mean(-1, true), mean(x, {-1}, true)));
  CHECK(equal(x.mean({1, 2}), mean(x, {1, 2})));
  CHECK(equal(x.max(), max(x)));
  auto [values, indices] = x.max(1);
  CHECK(equal(values, max(x, 1)));
  CHECK(equal(indices, argmax(x, 1)));
  CHECK(equal(x.max(2, true).indices, argmax(x, 2, true)));
  CHECK(equal(x.argmax(0), argmax(x, 0)));
  Tensor y = randn({4, 5});
  CHECK(equal(x.eq(y), eq(x, y)));
  CHECK(equal(x.lt(y), lt(x, y)));
  CHECK(equal(x.ge(0.5), ge(x, 0.5)));
  CHECK(equal(x.ne(0), ne(x, 0.0)));
  CHECK(equal(x.gt(y), gt(x, y)));
  CHECK(equal(x.le(0), le(x, 0.0)));
  CHECK(equal(x.masked_fill(x.gt(0), 0), masked_fill(x, gt(x, 0.0), 0)));
  CHECK(equal(x.topk(2).indices, topk(x, 2).indices));
  CHECK(equal(x.sort(1, true).values, sort(x, 1, true).values));
  CHECK(equal(x.argsort(0), argsort(x, 0)));
}

TEST_CASE("method forms are differentiable like the free functions") {
  Tensor x = test::leaf({2, 3});
  x.max(1).values.sum().backward();
  CHECK(x.grad().sum().item() == 2.f);
}

TEST_CASE("an accuracy count is one line") {
  Tensor logits = tensor({{0.1, 2.0, -1.0}, {3.0, 0.0, 0.5}, {0.0, 0.2, 0.1}, {1.0, 1.0, 0.0}});
  Tensor target = tensor({1, 0, 2, 0}, Dtype::Int64);
  int64_t correct = logits.argmax(1).eq(target).sum().item<int64_t>();
  CHECK(correct == 3);  // row 2 predicts 1, not 2; row 3's tie goes to the first maximum, 0
  CHECK(logits.argmax(1).eq(target).mean().item() == 0.75f);
}

TEST_CASE("tensor({...}) literals: 1-D, 2-D, int64, from_vector({...}) is unambiguous") {
  Tensor a = tensor({1, 2.5, -3});
  CHECK(a.dtype() == Dtype::Float32);
  CHECK(a.shape() == Shape{3});
  CHECK(a.to_vector<float>() == std::vector<float>{1, 2.5, -3});
  Tensor m = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(equal(m, arange(1, 7).view({2, 3})));
  Tensor l = tensor({1, 2}, Dtype::Int64);
  CHECK(l.dtype() == Dtype::Int64);
  CHECK(l.to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(tensor({{7}, {8}}, Dtype::Int64).shape() == Shape{2, 1});
  const int64_t label = 3;
  CHECK(tensor({label, 4}, Dtype::Int64).to_vector<int64_t>() == std::vector<int64_t>{3, 4});  // no cast needed
  CHECK_THROWS_WITH_AS(tensor({1, 2.5}, Dtype::Int64), "tensor: 2.5 is not a whole number, for an int64 tensor", Error);
  CHECK_THROWS_WITH_AS(tensor({{1, 2}, {3}}), "tensor: row 1 has 1 values but row 0 has 2", Error);
  Tensor f = from_vector({1.f, 2.f});
  CHECK(f.dtype() == Dtype::Float32);
  CHECK(f.to_vector<float>() == std::vector<float>{1, 2});
  CHECK(from_vector(std::vector<int64_t>{4, 5}).dtype() == Dtype::Int64);
}
