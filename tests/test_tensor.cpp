// Tensor basics: factories, views sharing storage, contiguity, in-place writes, printing, errors.
#include "helpers.h"

using namespace wick;

TEST_CASE("factories give the right shapes, dtypes and values") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == Dtype::Float32);
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(ones({4}, Dtype::Int64).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(full({2}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f});
  CHECK(arange(5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25).to_vector<float>() == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
  CHECK(scalar_tensor(3).dim() == 0);
  CHECK(scalar_tensor(3).item() == 3.f);
  CHECK_THROWS_WITH_AS(arange(0, 1, 0), doctest::Contains("non-zero step"), Error);
  CHECK_THROWS_WITH_AS(empty({2, -1}), doctest::Contains("negative dimension"), Error);
  CHECK_THROWS_WITH_AS(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), doctest::Contains("do not fill"), Error);
}

TEST_CASE("manual_seed makes random tensors reproducible") {
  manual_seed(42);
  Tensor a = randn({100});
  Tensor u = rand({100});
  manual_seed(42);
  CHECK(equal(a, randn({100})));
  CHECK(equal(u, rand({100})));
  std::vector<float> v = u.to_vector<float>();
  for (float x : v) CHECK((x >= 0.f && x < 1.f));
  manual_seed(1);
  Tensor n = randn({20000});
  CHECK(std::fabs(mean(n).item()) < 0.03);
  CHECK(std::fabs(var(n, {0}).item() - 1.0) < 0.05);
  std::vector<int64_t> p = randperm(10).to_vector<int64_t>();
  std::sort(p.begin(), p.end());
  CHECK(p == arange(10, Dtype::Int64).to_vector<int64_t>());
}

TEST_CASE("views share storage and read the right elements") {
  Tensor x = arange(24).view({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(!t.is_contiguous());
  CHECK(t.same_storage(x));
  CHECK(t.select(0, 1).select(0, 2).to_vector<float>() == std::vector<float>{9, 21});
  Tensor p = x.permute({1, 0, 2});
  CHECK(p.contiguous().view({-1}).to_vector<float>()[4] == 12.f);
  Tensor s = x.slice(2, 1, 4, 2);
  CHECK(s.shape() == Shape{2, 3, 2});
  CHECK(s.select(0, 0).select(0, 0).to_vector<float>() == std::vector<float>{1, 3});
  CHECK(x.narrow(1, 1, 1).squeeze(1).shape() == Shape{2, 4});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(x.flatten(1).shape() == Shape{2, 12});
  CHECK(x.flatten().shape() == Shape{24});
  Tensor e = from_vector(std::vector<float>{1, 2, 3}).view({3, 1}).expand({3, 4});
  CHECK(e.strides()[1] == 0);
  CHECK(e.contiguous().to_vector<float>()[5] == 2.f);
  CHECK(x.reshape({4, 6}).same_storage(x));
  CHECK(!t.reshape({24}).same_storage(x));  // not viewable: copies
  CHECK_THROWS_WITH_AS(t.view({24}), doctest::Contains("not contiguous"), Error);
  CHECK_THROWS_WITH_AS(x.view({5, -1}), doctest::Contains("invalid for input of shape [2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 3), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(x.expand({2, 5, 4}), doctest::Contains("must match the existing size 3"), Error);
}

TEST_CASE("writes through a view change the base") {
  Tensor x = zeros({3, 3});
  {
    NoGradGuard g;
    x.select(1, 1).fill_(7);
  }
  CHECK(x.to_vector<float>() == std::vector<float>{0, 7, 0, 0, 7, 0, 0, 7, 0});
  x.t().narrow(0, 0, 1).copy_(from_vector(std::vector<float>{1, 2, 3}));
  CHECK(x.to_vector<float>() == std::vector<float>{1, 7, 0, 2, 7, 0, 3, 7, 0});
  x.add_(ones({3}), 2.0);
  CHECK(x.to_vector<float>()[0] == 3.f);
  x.mul_(0.5);
  CHECK(x.to_vector<float>()[1] == 4.5f);
}

TEST_CASE("dtype conversion and item") {
  Tensor i = arange(4, Dtype::Int64);
  CHECK(i.dtype() == Dtype::Int64);
  CHECK(i.to(Dtype::Float32).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  CHECK(full({}, 2.7).to(Dtype::Int64).item<int64_t>() == 2);
  // Conversions to int64 of what does not fit are errors, not undefined casts; int64 stays exact.
  CHECK_THROWS_WITH_AS(full({}, 1e30).item<int64_t>(), doctest::Contains("item(): 1e+30 does not fit an int64"), Error);
  CHECK_THROWS_WITH_AS(full({2}, NAN).to(Dtype::Int64), doctest::Contains("to(int64): nan does not fit"), Error);
  CHECK_THROWS_WITH_AS(full({2}, INFINITY).to_vector<int64_t>(), doctest::Contains("to_vector(): inf"), Error);
  const int64_t big = (int64_t{1} << 62) + 1;  // not a double
  CHECK(from_vector(std::vector<int64_t>{big}, {}).item<int64_t>() == big);
  CHECK_THROWS_WITH_AS(i.data<float>(), doctest::Contains("tensor has dtype int64"), Error);
  CHECK_THROWS_WITH_AS(ones({2}).item(), doctest::Contains("cannot be converted to a scalar"), Error);
  CHECK_THROWS_WITH_AS(i.requires_grad_(), doctest::Contains("only float32"), Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), doctest::Contains("undefined tensor"), Error);
}

TEST_CASE("from_blob wraps external memory without copying") {
  std::vector<float> buf{1, 2, 3, 4};
  bool freed = false;
  {
    Tensor t = from_blob(buf.data(), {2, 2}, Dtype::Float32, [&](void*) { freed = true; });
    t.mul_(2.0);
  }
  CHECK(freed);
  CHECK(buf == std::vector<float>{2, 4, 6, 8});
}

TEST_CASE("printing follows PyTorch's format") {
  CHECK(from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}).str() == "tensor([[1., 2.],\n        [3., 4.]])");
  CHECK(from_vector(std::vector<float>{0.5f, -1.25f}).str() == "tensor([ 0.5000, -1.2500])");
  CHECK(arange(3, Dtype::Int64).str() == "tensor([0, 1, 2])");
  CHECK(scalar_tensor(2.5).str() == "tensor(2.5000)");
  CHECK(ones({2}).requires_grad_().str() == "tensor([1., 1.], requires_grad=True)");
  CHECK(arange(100, 2000).str() == "tensor([ 100.,  101.,  102.,  ..., 1997., 1998., 1999.])");
  CHECK(arange(2000).str() ==
        "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03, 1.9990e+03])");
  Tensor big = arange(2000).view({2, 1000});
  CHECK(big.str().find("...") != std::string::npos);
}

TEST_CASE("equal and allclose") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3});
  CHECK(equal(a, a.clone()));
  CHECK(!equal(a, a.view({3, 1})));
  CHECK(allclose(a, a + 1e-7));
  CHECK(!allclose(a, a + 1e-3));
  CHECK(!allclose(a, from_vector(std::vector<float>{1, 2, NAN})));
}
