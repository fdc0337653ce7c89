// conv2d and 2-D pooling: PyTorch golden values, finite-difference gradients, PyTorch's
// output-size and argmax rules, error messages, and bit-identical results across thread counts.
#include <cstring>
#include <limits>

#include "helpers.h"

using namespace wick;
using V = std::vector<Tensor>;

namespace {

Size2 int2(const nlohmann::json& j) { return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>()}; }

// Within 1e-5 relative (the golden inputs lie on a 1/16 grid, so PyTorch's sums are close to exact).
void check_golden(const Tensor& got, const Tensor& want) { CHECK_CLOSE(got, want, 1e-5, 1e-6); }

// A tensor's values, bit for bit.
std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::vector<uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(float));
  return out;
}

}  // namespace

TEST_CASE("conv2d forward and gradients match PyTorch") {
  test::Golden golden("conv_pool.json");
  for (const auto& c : golden.at("cases").at("conv")) {
    CAPTURE(c.at("name").get<std::string>());
    Tensor x = test::Golden::tensor(c.at("x")).requires_grad_();
    Tensor w = test::Golden::tensor(c.at("w")).requires_grad_();
    Tensor b = c.contains("b") ? test::Golden::tensor(c.at("b")).requires_grad_() : Tensor();
    Tensor out = conv2d(x, w, b, int2(c.at("stride")), int2(c.at("padding")), int2(c.at("dilation")),
                        c.at("groups").get<int64_t>());
    check_golden(out, test::Golden::tensor(c.at("out")));
    out.backward(test::Golden::tensor(c.at("gout")));
    check_golden(x.grad(), test::Golden::tensor(c.at("gx")));
    check_golden(w.grad(), test::Golden::tensor(c.at("gw")));
    if (b.defined()) check_golden(b.grad(), test::Golden::tensor(c.at("gb")));
  }
}

TEST_CASE("pooling forward and gradients match PyTorch") {
  test::Golden golden("conv_pool.json");
  for (const auto& c : golden.at("cases").at("pool")) {
    CAPTURE(c.at("name").get<std::string>());
    const auto& a = c.at("args");
    const std::string op = c.at("op");
    Tensor x = test::Golden::tensor(c.at("x")).requires_grad_();
    Tensor out;
    if (op == "max") {
      out = max_pool2d(x, int2(a.at("kernel_size")), a.contains("stride") ? int2(a.at("stride")) : Size2{0, 0},
                       a.contains("padding") ? int2(a.at("padding")) : Size2{0, 0},
                       a.contains("dilation") ? int2(a.at("dilation")) : Size2{1, 1}, a.value("ceil_mode", false));
    } else if (op == "avg") {
      out = avg_pool2d(x, int2(a.at("kernel_size")), a.contains("stride") ? int2(a.at("stride")) : Size2{0, 0},
                       a.contains("padding") ? int2(a.at("padding")) : Size2{0, 0}, a.value("ceil_mode", false),
                       a.value("count_include_pad", true));
    } else {
      out = adaptive_avg_pool2d(x, int2(a.at("output_size")));
    }
    check_golden(out, test::Golden::tensor(c.at("out")));
    out.backward(test::Golden::tensor(c.at("gout")));
    check_golden(x.grad(), test::Golden::tensor(c.at("gx")));
  }
}

TEST_CASE("gradient checks: conv2d stride, padding, dilation and non-square kernels") {
  manual_seed(21);
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2]); },
                  {test::leaf({2, 2, 5, 5}), test::leaf({3, 2, 3, 3}), test::leaf({3})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {2, 1}, {1, 2}); },
                  {test::leaf({2, 3, 6, 5}), test::leaf({2, 3, 3, 2}), test::leaf({2})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 2}, {0, 1}, {2, 1}); },
                  {test::leaf({1, 2, 7, 6}), test::leaf({3, 2, 2, 3}), test::leaf({3})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {3, 3}, {2, 2}, {2, 2}); },
                  {test::leaf({2, 1, 8, 7}), test::leaf({2, 1, 3, 3}), test::leaf({2})});
  // Stride larger than the kernel: some inputs get no gradient at all.
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {3, 2}); },
                  {test::leaf({2, 2, 7, 5}), test::leaf({2, 2, 2, 1}), test::leaf({2})});
}

TEST_CASE("conv2d stores its input's gradient into a new accumulator, and adds to one another op made") {
  manual_seed(26);
  struct Case {
    const char* path;
    int64_t c, o, hw, k, stride, pad;
  };
  // dL/dx through the channel-vector form (32 input channels, with AVX-512), the padded-width form,
  // a 1x1 GEMM straight into dx, and im2col's adjoint (stride 2).
  for (const Case& c : {Case{"channel vector", 32, 8, 9, 3, 1, 1}, Case{"padded width", 6, 4, 9, 3, 1, 1},
                        Case{"1x1", 5, 3, 6, 1, 1, 0}, Case{"col2im", 4, 3, 9, 3, 2, 1}}) {
    const std::string path = c.path;
    CAPTURE(path);
    const Tensor x0 = randn({2, c.c, c.hw, c.hw}), w1 = randn({c.o, c.c, c.k, c.k}), w2 = randn({c.o, c.c, c.k, c.k});
    const int64_t out_hw = (c.hw + 2 * c.pad - c.k) / c.stride + 1;
    const Tensor r1 = randn({2, c.o, out_hw, out_hw}), r2 = randn({2, c.o, out_hw, out_hw});
    auto grad_of = [&](bool first, bool second) {
      Tensor x = x0.clone().requires_grad_();
      Tensor loss = zeros({});
      if (first) loss = add(loss, sum(mul(conv2d(x, w1, Tensor(), c.stride, c.pad), r1)));
      if (second) loss = add(loss, sum(mul(conv2d(x, w2, Tensor(), c.stride, c.pad), r2)));
      loss.backward();
      return x.grad();
    };
    CHECK_CLOSE(grad_of(true, true), add(grad_of(true, false), grad_of(false, true)), 1e-5, 1e-5);
  }
  // The input is the weight too: its gradient is dL/dx stored, then dL/dw added to it.
  test::gradcheck([](const V& v) { return conv2d(v[0], v[0]); }, {test::leaf({2, 2, 3, 3})});
}

TEST_CASE("gradient checks: conv2d groups, depthwise, no bias, 1x1 and unbatched input") {
  manual_seed(22);
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}, {1, 1}, 2); },
                  {test::leaf({2, 4, 5, 4}), test::leaf({6, 2, 3, 3}), test::leaf({6})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], Tensor(), {2, 2}, {1, 1}, {1, 1}, 3); },
                  {test::leaf({2, 3, 6, 6}), test::leaf({3, 1, 3, 3})});  // depthwise
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}, {0, 0}, {1, 1}, 3); },
                  {test::leaf({1, 3, 4, 4}), test::leaf({6, 1, 2, 2})});  // depthwise, multiplier 2
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1]); }, {test::leaf({3, 4, 3, 3}), test::leaf({5, 4, 1, 1})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {2, 2}); },
                  {test::leaf({2, 3, 5, 5}), test::leaf({2, 3, 1, 1}), test::leaf({2})});  // strided 1x1
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 0}); },
                  {test::leaf({2, 5, 4}), test::leaf({3, 2, 3, 2}), test::leaf({3})});  // (C, H, W) input
  // Only some inputs require grad.
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}); },
                  {randn({2, 2, 4, 4}), test::leaf({3, 2, 3, 3}), randn({3})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}); },
                  {test::leaf({2, 2, 4, 4}), randn({3, 2, 3, 3}), test::leaf({3})});
  // A non-contiguous input.
  test::gradcheck([](const V& v) { return conv2d(v[0].transpose(2, 3), v[1]); },
                  {test::leaf({1, 2, 5, 4}), test::leaf({2, 2, 2, 2})});
}

TEST_CASE("gradient checks: max_pool2d with padding, stride, dilation and ceil_mode") {
  manual_seed(23);
  test::gradcheck([](const V& v) { return max_pool2d(v[0], {2, 2}); }, {test::leaf({2, 2, 4, 6})});
  test::gradcheck([](const V& v) { return max_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, {1, 1}, true); },
                  {test::leaf({1, 2, 6, 7})});
  test::gradcheck([](const V& v) { return max_pool2d(v[0], {2, 3}, {1, 2}, {1, 1}, {2, 1}); },
                  {test::leaf({1, 2, 6, 7})});
  test::gradcheck([](const V& v) { return max_pool2d(v[0], {2, 2}, {0, 0}, {0, 0}, {1, 1}, true); },
                  {test::leaf({3, 5, 5})});
  test::gradcheck([](const V& v) { return max_pool2d(v[0], {3, 3}, {1, 1}, {1, 1}); }, {test::leaf({1, 1, 4, 4})});
}

TEST_CASE("gradient checks: avg_pool2d with padding, ceil_mode and count_include_pad") {
  manual_seed(24);
  test::gradcheck([](const V& v) { return avg_pool2d(v[0], {2, 2}); }, {test::leaf({2, 2, 4, 6})});
  for (bool include : {true, false}) {
    CAPTURE(include);
    test::gradcheck([include](const V& v) { return avg_pool2d(v[0], {3, 3}, {2, 2}, {1, 1}, true, include); },
                    {test::leaf({1, 2, 6, 7})});
    test::gradcheck([include](const V& v) { return avg_pool2d(v[0], {2, 4}, {3, 2}, {1, 2}, false, include); },
                    {test::leaf({2, 7, 9})});
    test::gradcheck([include](const V& v) { return avg_pool2d(v[0], {2, 2}, {2, 2}, {1, 1}, true, include); },
                    {test::leaf({1, 1, 5, 4})});
  }
}

TEST_CASE("gradient checks: adaptive_avg_pool2d") {
  manual_seed(25);
  test::gradcheck([](const V& v) { return adaptive_avg_pool2d(v[0], {3, 2}); }, {test::leaf({2, 2, 7, 5})});
  test::gradcheck([](const V& v) { return adaptive_avg_pool2d(v[0], {1, 1}); }, {test::leaf({2, 3, 4, 4})});
  test::gradcheck([](const V& v) { return adaptive_avg_pool2d(v[0], {5, 4}); }, {test::leaf({2, 3, 3})});
}

TEST_CASE("pooling follows PyTorch's output-size and argmax rules") {
  // ceil_mode drops a last window that would start in the right padding: 5 -> 3, not 4.
  CHECK(max_pool2d(ones({1, 5, 5}), {2, 2}, {2, 2}, {1, 1}, {1, 1}, true).shape() == Shape{1, 3, 3});
  CHECK(avg_pool2d(ones({1, 5, 5}), {2, 2}, {2, 2}, {1, 1}, true).shape() == Shape{1, 3, 3});
  CHECK(max_pool2d(ones({2, 3, 5, 7}), {2, 2}, {0, 0}, {0, 0}, {1, 1}, true).shape() == Shape{2, 3, 3, 4});
  CHECK(max_pool2d(ones({2, 3, 28, 28}), {2, 2}).shape() == Shape{2, 3, 14, 14});
  CHECK(adaptive_avg_pool2d(ones({4, 6, 6}), {4, 4}).shape() == Shape{4, 4, 4});

  // Equal values: every window routes its gradient to its first cell in scan order.
  Tensor x = ones({1, 1, 3, 3}).requires_grad_();
  sum(max_pool2d(x, {3, 3}, {1, 1}, {1, 1})).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 2, 0, 2, 1, 0, 0, 0, 0});

  // count_include_pad: the corner window of a 2x2 pool with padding 1 sees one real cell.
  Tensor y = full({1, 1, 2, 2}, 4.0);
  CHECK(avg_pool2d(y, {2, 2}, {2, 2}, {1, 1}, false, true).to_vector<float>() == std::vector<float>{1, 1, 1, 1});
  CHECK(avg_pool2d(y, {2, 2}, {2, 2}, {1, 1}, false, false).to_vector<float>() == std::vector<float>{4, 4, 4, 4});

  // An empty batch gives empty results and zero gradients (after a batch of two with the same
  // shapes, whose weight-gradient partials the kernel keeps and an empty batch must not add).
  sum(conv2d(ones({2, 2, 6, 6}), ones({3, 2, 3, 3}).requires_grad_(), Tensor(), {1, 1}, {1, 1})).backward();
  Tensor e = zeros({0, 2, 6, 6}).requires_grad_();
  Tensor ew = ones({3, 2, 3, 3}).requires_grad_();
  Tensor eo = max_pool2d(conv2d(e, ew, Tensor(), {1, 1}, {1, 1}), {2, 2});
  CHECK(eo.shape() == Shape{0, 3, 3, 3});
  sum(eo).backward();
  CHECK(ew.grad().defined());
  CHECK(ew.grad().to_vector<float>() == std::vector<float>(54, 0.f));
  CHECK(adaptive_avg_pool2d(e, {2, 2}).shape() == Shape{0, 2, 2, 2});

  // Adaptive bins: 5 -> 3 uses rows [0,2), [1,4), [3,5).
  Tensor r = arange(5).view({1, 5, 1});
  CHECK(adaptive_avg_pool2d(r, {3, 1}).to_vector<float>() == std::vector<float>{0.5f, 2.f, 3.5f});

  // NaN wins the max (the last NaN in scan order gets the gradient), as PyTorch.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor n = from_vector(std::vector<float>{1, nan, 3, nan, 5, 2}, {1, 1, 6}).requires_grad_();
  Tensor nm = max_pool2d(n, {1, 6});
  CHECK(std::isnan(nm.item()));
  nm.backward(ones({1, 1, 1}));
  CHECK(n.grad().to_vector<float>() == std::vector<float>{0, 0, 0, 1, 0, 0});
}

TEST_CASE("conv2d errors name the op, the shapes and what was expected") {
  auto err = [](auto f, const char* text) { CHECK_THROWS_WITH_AS(f(), doctest::Contains(text), Error); };
  err([] { conv2d(ones({1, 3, 5, 5}), ones({4, 2, 3, 3})); },
      "conv2d: input [1, 3, 5, 5] has 3 channels but weight [4, 2, 3, 3] with groups=1 expects 2");
  err([] { conv2d(ones({3, 5, 5}), ones({4, 2, 3, 3})); },
      "conv2d: input [3, 5, 5] has 3 channels but weight [4, 2, 3, 3] with groups=1 expects 2");
  err([] { conv2d(ones({3, 5}), ones({4, 3, 3, 3})); }, "conv2d: expects a 4-D (N, C, H, W) or 3-D (C, H, W) input, got [3, 5]");
  err([] { conv2d(ones({1, 3, 5, 5}), ones({4, 3, 3})); }, "conv2d: expects a 4-D weight");
  err([] { conv2d(ones({1, 3, 5, 5}), ones({4, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2); },
      "conv2d: groups=2 does not divide the input's 3 channels");
  err([] { conv2d(ones({1, 4, 5, 5}), ones({3, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2); },
      "conv2d: groups=2 does not divide the weight's 3 output channels");
  err([] { conv2d(ones({1, 1, 2, 2}), ones({1, 1, 3, 3})); },
      "conv2d: kernel 3x3 (after dilation) is larger than the padded input 2x2");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {3, 3}); },
      "conv2d: kernel 7x7 (after dilation) is larger than the padded input 5x5");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), Tensor(), {0, 1}); }, "conv2d: stride must be positive, got (0, 1)");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), Tensor(), {1, 1}, {-1, 0}); },
      "conv2d: padding must be non-negative, got (-1, 0)");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 0}); },
      "conv2d: dilation must be positive, got (1, 0)");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({1, 1, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 0); },
      "conv2d: groups must be positive, got 0");
  err([] { conv2d(ones({1, 1, 5, 5}), ones({2, 1, 3, 3}), ones({3})); }, "conv2d: bias [3] must have shape [2]");
  err([] { conv2d(ones({1, 1, 5, 5}, Dtype::Int64), ones({2, 1, 3, 3})); }, "conv2d: expects float32 input and weight, got int64");
}

TEST_CASE("pooling errors name the op, the shapes and what was expected") {
  auto err = [](auto f, const char* text) { CHECK_THROWS_WITH_AS(f(), doctest::Contains(text), Error); };
  err([] { max_pool2d(ones({4, 4}), {2, 2}); }, "max_pool2d: expects a 4-D (N, C, H, W) or 3-D (C, H, W) input, got [4, 4]");
  err([] { avg_pool2d(ones({1, 1, 1, 4, 4}), {2, 2}); }, "avg_pool2d: expects a 4-D (N, C, H, W) or 3-D (C, H, W) input");
  err([] { adaptive_avg_pool2d(ones({4}), {2, 2}); }, "adaptive_avg_pool2d: expects a 4-D");
  err([] { max_pool2d(ones({1, 4, 4}, Dtype::Int64), {2, 2}); }, "max_pool2d: expects a float32 input, got int64");
  err([] { max_pool2d(ones({1, 4, 4}), {0, 2}); }, "max_pool2d: kernel_size must be positive, got (0, 2)");
  err([] { max_pool2d(ones({1, 4, 4}), {2, 2}, {-1, 1}); }, "max_pool2d: stride must be positive");
  err([] { max_pool2d(ones({1, 4, 4}), {2, 2}, {1, 1}, {0, 0}, {0, 1}); }, "max_pool2d: dilation must be positive");
  err([] { max_pool2d(ones({1, 4, 4}), {3, 3}, {1, 1}, {2, 0}); },
      "max_pool2d: padding must be non-negative and at most half the kernel size, got padding (2, 0) for kernel_size (3, 3)");
  err([] { avg_pool2d(ones({1, 4, 4}), {2, 2}, {1, 1}, {-1, 0}); }, "avg_pool2d: padding must be non-negative");
  err([] { max_pool2d(ones({1, 2, 5}), {3, 3}); }, "max_pool2d: input [1, 2, 5] is too small for kernel_size (3, 3)");
  err([] { avg_pool2d(ones({2, 1, 2, 2}), {3, 3}); }, "avg_pool2d: input [2, 1, 2, 2] is too small");
  err([] { adaptive_avg_pool2d(ones({1, 4, 4}), {0, 2}); }, "adaptive_avg_pool2d: output_size must be positive, got (0, 2)");
  err([] { adaptive_avg_pool2d(ones({1, 4, 4}, Dtype::Int64), {2, 2}); }, "adaptive_avg_pool2d: expects a float32 input");
}

TEST_CASE("conv2d and pooling are bit-identical at 1 and 2 threads") {
  // small-cnn's first conv (the direct kernels) and second conv and pool on a batch, one image (the
  // parallel-GEMM path) and a grouped conv; forward values and all gradients must match bit for bit.
  struct Case {
    Shape x, w;
    int64_t groups;
  };
  std::vector<Case> cases = {{{16, 1, 28, 28}, {32, 1, 3, 3}, 1}, {{16, 32, 14, 14}, {64, 32, 3, 3}, 1},
                             {{1, 32, 28, 28}, {64, 32, 3, 3}, 1}, {{8, 8, 9, 9}, {8, 2, 3, 3}, 4}};
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    manual_seed(30);
    Tensor x = randn(c.x), w = randn(c.w), b = randn({c.w[0]}), g;
    std::vector<std::vector<uint32_t>> runs[2];
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Tensor xs = x.clone().requires_grad_(), ws = w.clone().requires_grad_(), bs = b.clone().requires_grad_();
      Tensor out = max_pool2d(conv2d(xs, ws, bs, {1, 1}, {1, 1}, {1, 1}, c.groups), {2, 2});
      if (!g.defined()) g = randn(out.shape());
      out.backward(g);
      runs[threads - 1] = {bits(out), bits(xs.grad()), bits(ws.grad()), bits(bs.grad())};
    }
    set_num_threads(0);
    for (size_t k = 0; k < runs[0].size(); ++k) {
      CAPTURE(k);
      CHECK(runs[0][k] == runs[1][k]);
    }
  }
}
