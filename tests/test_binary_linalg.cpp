// Broadcasting binary ops and matmul: values, shape errors and finite-difference gradients.
#include <limits>

#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;

TEST_CASE("binary ops broadcast NumPy-style") {
  Tensor a = arange(6).view({2, 3});
  Tensor b = from_vector(std::vector<float>{10, 20, 30});
  CHECK(add(a, b).to_vector<float>() == std::vector<float>{10, 21, 32, 13, 24, 35});
  CHECK(sub(a, b.view({3})).to_vector<float>()[0] == -10.f);
  Tensor c = from_vector(std::vector<float>{2, 4}).view({2, 1});
  CHECK(mul(a, c).to_vector<float>() == std::vector<float>{0, 2, 4, 12, 16, 20});
  CHECK(div(a, c).shape() == Shape{2, 3});
  CHECK((a * 2.0 + 1.0).to_vector<float>()[5] == 11.f);
  CHECK((1.0 - a).to_vector<float>()[1] == 0.f);
  CHECK(add(ones({2, 1, 3}), ones({4, 1})).shape() == Shape{2, 4, 3});
  CHECK_THROWS_WITH_AS(add(ones({2, 3}), ones({4})),
                       doctest::Contains("add: shapes [2, 3] and [4] cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(mul(ones({2}), arange(2, Dtype::Int64)), doctest::Contains("float32"), Error);
}

TEST_CASE("gradient checks: add, sub, mul, div with broadcasting") {
  manual_seed(7);
  test::gradcheck([](const V& v) { return add(v[0], v[1], 0.5); }, {test::leaf({2, 3}), test::leaf({3})});
  test::gradcheck([](const V& v) { return sub(v[0], v[1]); }, {test::leaf({2, 1, 3}), test::leaf({4, 1})});
  test::gradcheck([](const V& v) { return mul(v[0], v[1]); }, {test::leaf({2, 3}), test::leaf({2, 1})});
  test::gradcheck([](const V& v) { return mul(v[0], v[0]); }, {test::leaf({5})});
  test::gradcheck([](const V& v) { return div(v[0], v[1]); }, {test::leaf({3, 2}), test::leaf({2}, 3.0)});
  test::gradcheck([](const V& v) { return mul(v[0], 3.0) + 1.0; }, {test::leaf({4})});
}

TEST_CASE("matmul matches a hand computation") {
  Tensor a = arange(6).view({2, 3});
  Tensor b = arange(6).view({3, 2});
  CHECK(matmul(a, b).to_vector<float>() == std::vector<float>{10, 13, 28, 40});
  CHECK(matmul(a, b.t().t()).to_vector<float>() == std::vector<float>{10, 13, 28, 40});
  CHECK(matmul(b.t(), a.t()).to_vector<float>() == std::vector<float>{10, 28, 13, 40});
  CHECK(matmul(arange(3), arange(3)).item() == 5.f);
  CHECK(matmul(a, arange(3)).to_vector<float>() == std::vector<float>{5, 14});
  Tensor batched = matmul(arange(12).view({2, 2, 3}), b);
  CHECK(batched.shape() == Shape{2, 2, 2});
  CHECK(batched.select(0, 1).to_vector<float>() == std::vector<float>{46, 67, 64, 94});
  CHECK_THROWS_WITH_AS(matmul(ones({2, 3}), ones({2, 3})),
                       doctest::Contains("matmul: shapes [2, 3] and [2, 3] cannot be multiplied"), Error);
}

TEST_CASE("gradient checks: matmul 2-D, transposed, batched and broadcast") {
  manual_seed(11);
  test::gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {test::leaf({3, 4}), test::leaf({4, 2})});
  test::gradcheck([](const V& v) { return matmul(v[0].t(), v[1]); }, {test::leaf({4, 3}), test::leaf({4, 2})});
  test::gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {test::leaf({2, 3, 4}), test::leaf({4, 2})});
  test::gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {test::leaf({2, 1, 2, 3}), test::leaf({3, 3, 2})});
  test::gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {test::leaf({3}), test::leaf({3, 2})});
}

TEST_CASE("large matmul agrees with a double-precision reference") {
  manual_seed(5);
  Tensor a = randn({300, 200}), b = randn({200, 700});
  Tensor c = matmul(a, b);
  std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>(), cv = c.to_vector<float>();
  for (int i : {0, 131, 299})
    for (int j : {0, 511, 699}) {
      double s = 0;
      for (int k = 0; k < 200; ++k) s += double(av[i * 200 + k]) * bv[k * 700 + j];
      CHECK(std::fabs(cv[i * 700 + j] - s) < 1e-3);
    }
}

TEST_CASE("linear is matmul and add: the same bits without a graph, and their gradients with one") {
  manual_seed(17);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const Shape& xs : {Shape{1, 3136}, Shape{7, 13}, Shape{2, 5, 13}}) {  // 3-D: matmul and add
    CAPTURE(shape_str(xs));
    const int64_t in = xs.back(), out = in == 3136 ? 128 : 9;
    Tensor x = randn(xs), w = randn({out, in}), b = randn({out});
    x.data<float>()[1] = nan;  // a NaN stays one, in its row
    NoGradGuard g;
    Tensor want = add(matmul(x, w.t()), b);
    CHECK(equal(linear(x, w, b), want));  // equal: NaN where want has one
    CHECK(equal(linear(x, w), matmul(x, w.t())));
  }
  test::gradcheck([](const V& v) { return linear(v[0], v[1], v[2]); },
                  {test::leaf({3, 4}), test::leaf({5, 4}), test::leaf({5})});
  test::gradcheck([](const V& v) { return linear(v[0], v[1]); }, {test::leaf({2, 3, 4}), test::leaf({5, 4})});
  CHECK_THROWS_WITH_AS(linear(randn({2, 4}), randn({5, 3})),
                       doctest::Contains("does not end in the weight's in_features (3)"), Error);
  CHECK_THROWS_WITH_AS(linear(randn({2, 4}), randn({5, 4}), randn({4})), doctest::Contains("bias must have shape (5)"),
                       Error);
}
