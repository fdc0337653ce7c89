// Joining and indexing (cat, stack, index_select, gather): values, gradients with duplicate indices,
// negative dims and non-contiguous inputs, error messages, and same bits at any thread count.
#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;

namespace {

Tensor idx(std::vector<int64_t> v) { return from_vector(v); }
Tensor idx(std::vector<int64_t> v, const Shape& shape) { return from_vector(v, shape); }

std::vector<float> fv(const Tensor& t) { return t.to_vector<float>(); }

// Reference gather over 3-D tensors, by loops: out[i][j][k] = x[..index[i][j][k]..] along dim.
std::vector<float> naive_gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor xc = x.contiguous(), ic = index.contiguous();
  const Shape& xs = xc.shape();
  const Shape& is = ic.shape();
  std::vector<float> xv = xc.to_vector<float>(), out;
  std::vector<int64_t> iv = ic.to_vector<int64_t>();
  for (int64_t i = 0; i < is[0]; ++i)
    for (int64_t j = 0; j < is[1]; ++j)
      for (int64_t k = 0; k < is[2]; ++k) {
        int64_t c[3] = {i, j, k};
        c[dim] = iv[(i * is[1] + j) * is[2] + k];
        out.push_back(xv[(c[0] * xs[1] + c[1]) * xs[2] + c[2]]);
      }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- cat, stack

TEST_CASE("cat joins along any dim, negative dims, different sizes and non-contiguous inputs") {
  Tensor a = arange(6).view({2, 3}), b = arange(6, 12).view({2, 3});
  CHECK(cat({a, b}).shape() == Shape{4, 3});
  CHECK(fv(cat({a, b}, 0)) == fv(arange(12)));
  CHECK(fv(cat({a, b}, 1)) == std::vector<float>{0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  CHECK(equal(cat({a, b}, -1), cat({a, b}, 1)));
  CHECK(equal(cat({a, b}, -2), cat({a, b}, 0)));
  Tensor c = full({2, 1}, -1.0);
  CHECK(fv(cat({c, a, c}, 1)) == std::vector<float>{-1, 0, 1, 2, -1, -1, 3, 4, 5, -1});
  // Transposed (non-contiguous) inputs.
  CHECK(fv(cat({a.t(), b.t()}, 0)) == std::vector<float>{0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
  CHECK(fv(cat({a.t(), b.t()}, 1)) == std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11});
  // 3-D along the middle dim, a single tensor, zero-size pieces, int64.
  Tensor x = arange(24).view({2, 3, 4});
  Tensor y = cat({x.narrow(1, 0, 1), x.narrow(1, 1, 2)}, 1);
  CHECK(equal(y, x));
  CHECK(equal(cat({x}, 2), x));
  CHECK(!cat({x}, 2).same_storage(x));
  CHECK(equal(cat({zeros({2, 0, 4}), x, zeros({2, 0, 4})}, 1), x));
  Tensor li = cat({arange(2, Dtype::Int64), arange(3, Dtype::Int64)});
  CHECK(li.dtype() == Dtype::Int64);
  CHECK(li.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0, 1, 2});
  // As PyTorch, 1-D empty tensors are skipped whatever the others' shapes.
  CHECK(equal(cat({empty({0}), a, empty({0})}, 1), a));
  CHECK(cat({empty({0}), empty({0})}).shape() == Shape{0});
}

TEST_CASE("stack inserts a new dim, like unsqueeze then cat") {
  Tensor a = arange(6).view({2, 3}), b = arange(6, 12).view({2, 3});
  CHECK(stack({a, b}).shape() == Shape{2, 2, 3});
  CHECK(fv(stack({a, b}, 0)) == fv(arange(12)));
  CHECK(stack({a, b}, 1).shape() == Shape{2, 2, 3});
  CHECK(fv(stack({a, b}, 1)) == std::vector<float>{0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  CHECK(stack({a, b}, -1).shape() == Shape{2, 3, 2});
  CHECK(fv(stack({a, b}, 2)) == std::vector<float>{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11});
  CHECK(equal(stack({a, b}, -1), stack({a, b}, 2)));
  CHECK(equal(stack({a.t(), b.t()}, 0), stack({a, b}, 0).transpose(1, 2).contiguous()));
  CHECK(fv(stack({scalar_tensor(1.0), scalar_tensor(2.0)})) == std::vector<float>{1, 2});
  CHECK(stack({a}, 0).shape() == Shape{1, 2, 3});
}

TEST_CASE("gradient checks: cat and stack") {
  manual_seed(31);
  test::gradcheck([](const V& v) { return cat({v[0], v[1], v[2]}, 0); },
                  {test::leaf({2, 3}), test::leaf({1, 3}), test::leaf({3, 3})});
  test::gradcheck([](const V& v) { return cat({v[0], v[1]}, 1); }, {test::leaf({2, 3}), test::leaf({2, 1})});
  test::gradcheck([](const V& v) { return cat({v[0], v[1], v[0]}, -1); }, {test::leaf({2, 2, 3}), test::leaf({2, 2, 1})});
  test::gradcheck([](const V& v) { return cat({v[0].t(), v[1]}, 0); }, {test::leaf({3, 2}), test::leaf({4, 3})});
  test::gradcheck([](const V& v) { return cat({v[0], ones({2, 2}), v[1]}, 1); }, {test::leaf({2, 3}), test::leaf({2, 1})});
  test::gradcheck([](const V& v) { return stack({v[0], v[1]}, 0); }, {test::leaf({2, 3}), test::leaf({2, 3})});
  test::gradcheck([](const V& v) { return stack({v[0], v[1], v[0]}, 1); }, {test::leaf({2, 3}), test::leaf({2, 3})});
  test::gradcheck([](const V& v) { return stack({v[0].t(), v[1]}, -1); }, {test::leaf({3, 2}), test::leaf({2, 3})});
}

TEST_CASE("cat and stack: errors name the tensor and both shapes") {
  CHECK_THROWS_WITH_AS(cat({}), "cat: expects a non-empty list of tensors", Error);
  CHECK_THROWS_WITH_AS(stack({}), "stack: expects a non-empty list of tensors", Error);
  CHECK_THROWS_WITH_AS(cat({ones({2, 3}), ones({2, 3}), ones({2, 4})}, 0),
                       "cat: tensor 2 has shape [2, 4] but tensor 0 has shape [2, 3]; sizes must match except in "
                       "dimension 0",
                       Error);
  CHECK_THROWS_WITH_AS(cat({ones({2, 3}), ones({3, 3})}, -1),
                       doctest::Contains("tensor 1 has shape [3, 3] but tensor 0 has shape [2, 3]; sizes must match "
                                         "except in dimension 1"),
                       Error);
  CHECK_THROWS_WITH_AS(cat({ones({2, 3}), ones({2, 3, 1})}),
                       doctest::Contains("cat: tensor 1 has shape [2, 3, 1] but tensor 0 has shape [2, 3]; all tensors "
                                         "must have the same number of dimensions"),
                       Error);
  CHECK_THROWS_WITH_AS(cat({ones({2}), arange(2, Dtype::Int64)}),
                       "cat: tensor 1 has dtype int64 but tensor 0 has dtype float32; all tensors must have the same dtype",
                       Error);
  CHECK_THROWS_WITH_AS(cat({scalar_tensor(1.0), scalar_tensor(2.0)}),
                       "cat: zero-dimensional tensor (at position 0) cannot be concatenated", Error);
  CHECK_THROWS_WITH_AS(cat({ones({2, 3})}, 2), doctest::Contains("cat: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(cat({ones({2}), Tensor()}), "cat: tensor 1 is undefined", Error);
  CHECK_THROWS_WITH_AS(stack({ones({2, 3}), ones({2, 3}), ones({3, 2})}),
                       "stack: tensor 2 has shape [3, 2] but tensor 0 has shape [2, 3]; all tensors must have the same "
                       "shape",
                       Error);
  CHECK_THROWS_WITH_AS(stack({ones({2}), ones({2})}, 2), doctest::Contains("stack: dimension out of range"), Error);
}

// ---------------------------------------------------------------- index_select

TEST_CASE("index_select picks slices along any dim, with duplicates, negative dims and strided inputs") {
  Tensor x = arange(12).view({3, 4});
  CHECK(fv(index_select(x, 0, idx({2, 0, 2}))) == std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  CHECK(fv(index_select(x, 1, idx({3, 3, 0}))) == std::vector<float>{3, 3, 0, 7, 7, 4, 11, 11, 8});
  CHECK(equal(index_select(x, -1, idx({3, 3, 0})), index_select(x, 1, idx({3, 3, 0}))));
  CHECK(equal(index_select(x, -2, idx({1}, {1})), x.narrow(0, 1, 1)));
  // Transposed input, strided index, empty index, 0-d index (one slice, dim kept), int64 input.
  CHECK(fv(index_select(x.t(), 0, idx({1, 3}))) == std::vector<float>{1, 5, 9, 3, 7, 11});
  CHECK(fv(index_select(x.t(), 1, idx({2, 0}))) == std::vector<float>{8, 0, 9, 1, 10, 2, 11, 3});
  Tensor strided = idx({2, 9, 0, 9, 1}).slice(0, 0, 5, 2);  // [2, 0, 1]
  CHECK(fv(index_select(x, 0, strided)) == fv(cat({x.narrow(0, 2, 1), x.narrow(0, 0, 2)})));
  CHECK(index_select(x, 1, idx({}, {0})).shape() == Shape{3, 0});
  CHECK(index_select(x, 1, from_vector(std::vector<int64_t>{2}, Shape{})).shape() == Shape{3, 1});
  Tensor xi = arange(12, Dtype::Int64).view({3, 4});
  CHECK(index_select(xi, 0, idx({1})).to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7});
  // 3-D, middle dim.
  Tensor y = arange(24).view({2, 3, 4});
  Tensor s = index_select(y, 1, idx({2, 2}));
  CHECK(s.shape() == Shape{2, 2, 4});
  CHECK(equal(s.select(1, 0), y.select(1, 2).contiguous()));
  CHECK(equal(s.select(1, 1), y.select(1, 2).contiguous()));
}

TEST_CASE("index_select backward adds every picked slice back, duplicates accumulate") {
  Tensor x = zeros({3, 2}).requires_grad_();
  Tensor out = index_select(x, 0, idx({1, 1, 0, 1}));
  sum(mul(out, from_vector(std::vector<float>{1, 2, 10, 20, 100, 200, 1000, 2000}, {4, 2}))).backward();
  CHECK(fv(x.grad()) == std::vector<float>{100, 200, 1011, 2022, 0, 0});
  Tensor z = zeros({2, 3}).requires_grad_();
  sum(index_select(z, -1, idx({2, 2, 2}))).backward();
  CHECK(fv(z.grad()) == std::vector<float>{0, 0, 3, 0, 0, 3});
}

TEST_CASE("gradient checks: index_select with duplicates, negative dims and non-contiguous inputs") {
  manual_seed(37);
  Tensor dup = idx({2, 0, 2, 2, 1});
  test::gradcheck([&](const V& v) { return index_select(v[0], 0, dup); }, {test::leaf({3, 4})});
  test::gradcheck([&](const V& v) { return index_select(v[0], 1, dup); }, {test::leaf({2, 3, 2})});
  test::gradcheck([&](const V& v) { return index_select(v[0], -1, dup); }, {test::leaf({2, 2, 3})});
  test::gradcheck([&](const V& v) { return index_select(v[0].t(), 0, dup); }, {test::leaf({4, 3})});
  test::gradcheck([&](const V& v) { return index_select(v[0].permute({2, 0, 1}), 2, idx({0, 0, 2})); },
                  {test::leaf({2, 3, 4})});
  test::gradcheck([&](const V& v) { return mul(index_select(v[0], 0, dup), index_select(v[0], 0, idx({1, 1, 0, 2, 1}))); },
                  {test::leaf({3, 2})});
}

TEST_CASE("index_select: errors for bad indices, index shapes and dtypes") {
  Tensor x = ones({3, 4});
  CHECK_THROWS_WITH_AS(index_select(x, 1, idx({0, 2, 4})),
                       "index_select: index 4 is out of bounds for dimension 1 with size 4 (entry 2 of the index; "
                       "input shape [3, 4])",
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({-1})),
                       doctest::Contains("index_select: index -1 is out of bounds for dimension 0 with size 3"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, from_vector(std::vector<float>{0}, {1})),
                       "index_select: index must be an int64 tensor, got float32 (shape [1])", Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({0, 1}, {2, 1})), "index_select: index must be 1-D, got shape [2, 1]",
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, idx({0})), doctest::Contains("index_select: dimension out of range"), Error);
  CHECK_THROWS_WITH_AS(index_select(scalar_tensor(1.0), 0, idx({0})),
                       doctest::Contains("index_select: expects an input with at least one dimension"), Error);
  CHECK_THROWS_WITH_AS(index_select(zeros({0, 2}), 0, idx({0})),
                       doctest::Contains("index 0 is out of bounds for dimension 0 with size 0"), Error);
}

// ---------------------------------------------------------------- gather

TEST_CASE("gather follows PyTorch: same ndim, smaller or larger index, negative dims, strided inputs") {
  Tensor x = arange(12).view({3, 4});
  CHECK(fv(gather(x, 1, idx({0, 0, 1, 3, 2, 1}, {3, 2}))) == std::vector<float>{0, 0, 5, 7, 10, 9});
  CHECK(fv(gather(x, 0, idx({2, 1, 0, 0}, {1, 4}))) == std::vector<float>{8, 5, 2, 3});
  CHECK(equal(gather(x, -1, idx({3, 2}, {1, 2})), gather(x, 1, idx({3, 2}, {1, 2}))));
  // The index may be longer than the input along dim, and shorter along the others.
  CHECK(fv(gather(x, 1, idx({3, 3, 3, 3, 3, 0}, {1, 6}))) == std::vector<float>{3, 3, 3, 3, 3, 0});
  CHECK(fv(gather(x, 0, idx({2, 2, 1, 1}, {4, 1}))) == std::vector<float>{8, 8, 4, 4});
  CHECK(gather(x, 0, idx({}, {0, 4})).shape() == Shape{0, 4});
  // Transposed input and transposed index.
  CHECK(fv(gather(x.t(), 1, idx({2, 0, 1, 1}, {4, 1}))) == std::vector<float>{8, 1, 6, 7});
  Tensor it = idx({0, 1, 2, 3, 3, 2}, {2, 3}).t();  // (3, 2): [[0, 3], [1, 3], [2, 2]]
  CHECK(fv(gather(x, 1, it)) == std::vector<float>{0, 3, 5, 7, 10, 10});
  Tensor xi = arange(12, Dtype::Int64).view({3, 4});
  CHECK(gather(xi, 1, idx({3, 0}, {1, 2})).to_vector<int64_t>() == std::vector<int64_t>{3, 0});
  CHECK(gather(scalar_tensor(5.0), 0, from_vector(std::vector<int64_t>{0}, Shape{})).item() == 5.f);
  // 3-D against loops, every dim, contiguous and permuted inputs.
  manual_seed(41);
  Tensor y = randn({3, 4, 5});
  for (int64_t d = 0; d < 3; ++d) {
    Tensor index = randint(0, y.size(d), {2, 3, 4});
    CHECK(fv(gather(y, d, index)) == naive_gather(y, d, index));
    CHECK(equal(gather(y, d - 3, index), gather(y, d, index)));
    Tensor yp = y.permute({2, 1, 0});  // (5, 4, 3)
    Tensor ip = randint(0, yp.size(d), {4, 4, 3});
    CHECK(fv(gather(yp, d, ip)) == naive_gather(yp, d, ip));
  }
}

TEST_CASE("gather backward scatter-adds, duplicates accumulate") {
  Tensor x = zeros({2, 3}).requires_grad_();
  Tensor out = gather(x, 1, idx({2, 2, 0, 1, 1, 1}, {2, 3}));
  sum(mul(out, from_vector(std::vector<float>{1, 2, 4, 10, 20, 40}, {2, 3}))).backward();
  CHECK(fv(x.grad()) == std::vector<float>{4, 0, 3, 0, 70, 0});
  Tensor z = zeros({3, 2}).requires_grad_();
  sum(gather(z, 0, idx({0, 0, 0, 2}, {2, 2}))).backward();
  CHECK(fv(z.grad()) == std::vector<float>{2, 1, 0, 0, 0, 1});
}

TEST_CASE("gradient checks: gather with duplicates, negative dims and non-contiguous inputs") {
  manual_seed(43);
  Tensor i2 = idx({0, 0, 2, 1, 1, 1, 2, 0}, {2, 4});
  test::gradcheck([&](const V& v) { return gather(v[0], 1, i2); }, {test::leaf({2, 3})});
  test::gradcheck([&](const V& v) { return gather(v[0], 0, idx({2, 2, 0, 1, 1, 1}, {2, 3})); }, {test::leaf({3, 3})});
  test::gradcheck([&](const V& v) { return gather(v[0], -1, i2); }, {test::leaf({3, 3})});
  test::gradcheck([&](const V& v) { return gather(v[0].t(), 1, i2); }, {test::leaf({3, 2})});
  test::gradcheck([&](const V& v) { return gather(v[0], 0, i2.t()); }, {test::leaf({3, 2})});
  Tensor i3 = randint(0, 3, {2, 5, 2});
  test::gradcheck([&](const V& v) { return gather(v[0], 1, i3); }, {test::leaf({2, 3, 4})});
  Tensor ip = randint(0, 2, {3, 4, 3});
  test::gradcheck([&](const V& v) { return gather(v[0].permute({1, 2, 0}), -1, ip); },
                  {test::leaf({2, 3, 4})});
}

TEST_CASE("gather: errors for bad indices, index shapes and dtypes") {
  Tensor x = ones({3, 4});
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 1, 2, 4}, {2, 2})),
                       "gather: index 4 is out of bounds for dimension 1 with size 4 (at position [1, 1] of the index "
                       "of shape [2, 2]; input shape [3, 4])",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 0, idx({0, -1}, {1, 2})),
                       doctest::Contains("gather: index -1 is out of bounds for dimension 0 with size 3 (at position [0, "
                                         "1]"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 1})),
                       "gather: index of shape [2] and input of shape [3, 4] must have the same number of dimensions",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 0, 0, 0, 0}, {5, 1})),
                       "gather: index of shape [5, 1] does not fit input of shape [3, 4]: index.size(0) = 5 exceeds "
                       "input.size(0) = 3 (only dimension 1, the gathered one, may be larger)",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, ones({3, 4})), "gather: index must be an int64 tensor, got float32 (shape [3, 4])",
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, -3, idx({0}, {1, 1})), doctest::Contains("gather: dimension out of range"), Error);
}

TEST_CASE("indexing ops: an index modified after the forward pass is refused by backward") {
  Tensor x = randn({3, 2}).requires_grad_();
  Tensor i = idx({0, 2});
  Tensor out = index_select(x, 0, i);
  i.fill_(1);
  CHECK_THROWS_WITH_AS(sum(out).backward(), doctest::Contains("backward of index_select"), Error);
  Tensor j = idx({0, 1}, {2, 1});
  Tensor g = gather(x, 1, j);
  j.fill_(0);
  CHECK_THROWS_WITH_AS(sum(g).backward(), doctest::Contains("backward of gather"), Error);
}

TEST_CASE("large gathers and scatter-adds match loops and are bit-identical at 1 and 2 threads") {
  manual_seed(47);
  // Many rows: an embedding-style lookup with heavy duplication, and its backward.
  Tensor table = randn({50, 300});
  Tensor rows = randint(0, 50, {4000});
  test::same_bits_at_1_and_2_threads([&] { return index_select(table, 0, rows); });
  Tensor w = randn({4000, 300});
  auto lookup_backward = [&] {
    Tensor t = table.detach().clone().requires_grad_();
    sum(mul(index_select(t, 0, rows), w)).backward();
    return t.grad();
  };
  test::same_bits_at_1_and_2_threads(lookup_backward);
  {
    std::vector<float> tv = table.to_vector<float>(), wv = w.to_vector<float>(), out = fv(index_select(table, 0, rows));
    std::vector<int64_t> rv = rows.to_vector<int64_t>();
    std::vector<float> picked, grad(tv.size(), 0.f);
    for (int64_t k = 0; k < 4000; ++k)
      for (int64_t j = 0; j < 300; ++j) {
        picked.push_back(tv[rv[k] * 300 + j]);
        grad[rv[k] * 300 + j] += wv[k * 300 + j];
      }
    CHECK(out == picked);
    CHECK(fv(lookup_backward()) == grad);
  }
  // One long fiber split into blocks, and per-element indices along the last dim.
  Tensor v = randn({3, 70000});
  Tensor cols = randint(0, 70000, {3, 90000});
  Tensor picked = gather(v, 1, cols);
  std::vector<float> vv = v.to_vector<float>(), pv = picked.to_vector<float>();
  std::vector<int64_t> cv = cols.to_vector<int64_t>();
  bool same = true;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 90000; ++j) same = same && pv[r * 90000 + j] == vv[r * 70000 + cv[r * 90000 + j]];
  CHECK(same);
  Tensor gw = randn({3, 90000});
  auto backward = [&] {
    Tensor l = v.detach().clone().requires_grad_();
    sum(mul(gather(l, 1, cols), gw)).backward();
    return l.grad();
  };
  test::same_bits_at_1_and_2_threads(backward);
  // The backward equals a serial scatter-add in index order.
  std::vector<float> expect(3 * 70000, 0.f), gv = gw.to_vector<float>();
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < 90000; ++j) expect[r * 70000 + cv[r * 90000 + j]] += gv[r * 90000 + j];
  CHECK(fv(backward()) == expect);
  // Gathering along dim 0 of a wide tensor (many fibers) and a large cat.
  Tensor down = randint(0, 3, {5, 70000});
  test::same_bits_at_1_and_2_threads([&] {
    Tensor l = v.detach().clone().requires_grad_();
    sum(gather(l, 0, down)).backward();
    return l.grad();
  });
  test::same_bits_at_1_and_2_threads([&] { return cat({v, v.t().contiguous().t()}, 0); });
}
