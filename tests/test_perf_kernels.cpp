// The fast paths behind small-cnn: each must give what the general code (or a plain reference)
// gives, ties, NaN and signed zeros included.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/blas.h"
#include "core/kernels/conv.h"
#include "core/kernels/gemm.h"
#include "helpers.h"

using namespace wick;

namespace {

// A tensor of values from a small set, so windows hold ties, signed zeros, -inf and the odd NaN.
Tensor tie_heavy(const Shape& shape, bool with_nan) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> pool = {-1.f, 0.f, -0.f, 1.f, 2.f, -inf, 2.f, 0.f};
  Tensor u = rand(shape);
  std::vector<float> v = u.to_vector<float>();
  for (size_t k = 0; k < v.size(); ++k) {
    v[k] = pool[static_cast<size_t>(v[k] * 8) % pool.size()];
    if (with_nan && k % 37 == 5) v[k] = nan;
  }
  return from_vector(v, shape);
}

}  // namespace

TEST_CASE("max_pool2d 2x2 fast path: first maximum in scan order, NaN wins, as the general rule") {
  // Both loops: the portable one and, with AVX-512, 16 windows a vector (rows of 18 windows take a
  // second, short vector).
  std::vector<GemmKernel> kernels_here = {GemmKernel::OpenBlas};
  if (kernels::cpu_has_avx512()) kernels_here.push_back(GemmKernel::Avx512);
  const GemmKernel before = gemm_kernel();
  manual_seed(5);
  for (GemmKernel kernel : kernels_here) {
    for (Shape shape : {Shape{2, 3, 8, 8}, Shape{1, 2, 7, 9}, Shape{1, 1, 28, 28}, Shape{2, 2, 14, 14},
                        Shape{1, 2, 6, 37}, Shape{3, 1, 5, 33}})
      for (bool with_nan : {false, true}) {
        set_gemm_kernel(kernel);
        CAPTURE(gemm_kernel_name(kernel));
        CAPTURE(shape_str(shape));
        CAPTURE(with_nan);
        Tensor x = tie_heavy(shape, with_nan).requires_grad_();
        Tensor out = max_pool2d(x, {2, 2});
        const int64_t h = shape[2], w = shape[3], oh = h / 2, ow = w / 2, planes = x.numel() / (h * w);
        std::vector<float> xv = x.to_vector<float>(), ov = out.to_vector<float>();
        std::vector<float> want_grad(xv.size(), 0.f);
        for (int64_t p = 0; p < planes; ++p)
          for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
              int64_t best = p * h * w + 2 * oy * w + 2 * ox;
              float m = -std::numeric_limits<float>::infinity();
              bool nan = false;
              for (int64_t dy = 0; dy < 2; ++dy)
                for (int64_t dx = 0; dx < 2; ++dx) {
                  const int64_t at = p * h * w + (2 * oy + dy) * w + 2 * ox + dx;
                  if (std::isnan(xv[at])) m = xv[at], best = at, nan = true;
                  else if (!nan && xv[at] > m) m = xv[at], best = at;
                }
              const float got = ov[(p * oh + oy) * ow + ox];
              CHECK(std::memcmp(&got, &m, sizeof m) == 0);  // bit for bit: -0 stays -0
              want_grad[best] += 1.f;
            }
        sum(out).backward();
        CHECK(x.grad().to_vector<float>() == want_grad);
      }
  }
  set_gemm_kernel(before);
}

namespace {

// small-cnn's layers run one by one through their own forward (no fusion).
Tensor unfused_forward(nn::Sequential& model, const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < model->size(); ++i) h = (*model)[i]->forward(h);
  return h;
}

// Copies every parameter and buffer of `from` into `to` (same architecture).
void copy_state(nn::Sequential& from, nn::Sequential& to) {
  NoGradGuard g;
  auto a = from->named_parameters(), b = to->named_parameters();
  for (size_t k = 0; k < a.size(); ++k) b[k].second.copy_(a[k].second);
  auto ab = from->named_buffers(), bb = to->named_buffers();
  for (size_t k = 0; k < ab.size(); ++k) bb[k].second.copy_(ab[k].second);
}

}  // namespace

TEST_CASE("Sequential's fused BatchNorm+ReLU trains exactly as the separate layers") {
  manual_seed(11);
  nn::Sequential fused = nn::small_cnn(), plain = nn::small_cnn();
  copy_state(fused, plain);
  Tensor x = randn({6, 1, 28, 28});
  Tensor target = from_vector(std::vector<int64_t>{0, 3, 9, 1, 1, 5});
  Tensor lf = cross_entropy(fused->forward(x), target), lp = cross_entropy(unfused_forward(plain, x), target);
  CHECK(equal(lf, lp));
  lf.backward();
  lp.backward();
  auto pf = fused->named_parameters(), pp = plain->named_parameters();
  for (size_t k = 0; k < pf.size(); ++k) {
    CAPTURE(pf[k].first);
    CHECK(equal(pf[k].second.grad(), pp[k].second.grad()));
  }
  auto bf = fused->named_buffers(), bp = plain->named_buffers();
  for (size_t k = 0; k < bf.size(); ++k) CHECK(equal(bf[k].second, bp[k].second));
}

TEST_CASE("Sequential's inference fusion of Conv2d+BatchNorm2d+ReLU matches the separate layers") {
  manual_seed(12);
  nn::Sequential model = nn::small_cnn();
  {  // running statistics away from their initial 0 / 1, and non-trivial affine parameters
    NoGradGuard g;
    for (int k = 0; k < 3; ++k) model->forward(randn({8, 1, 28, 28}).mul_(2.0).add_(full({1}, 0.5)));
    for (auto& [name, p] : model->named_parameters())
      if (name == "1.weight" || name == "5.weight") p.add_(rand(p.shape()));
  }
  model->eval();
  Tensor x = randn({5, 1, 28, 28});
  NoGradGuard g;
  Tensor fused = model->forward(x), plain = unfused_forward(model, x);
  CHECK_CLOSE(fused, plain, 1e-5, 1e-5);
  CHECK_CLOSE(model->forward(x.select(0, 2).unsqueeze(0)), plain.select(0, 2).unsqueeze(0), 1e-5, 1e-5);
  // With a graph recorded (grad mode on, parameters needing grad) the layers run unfused.
  {
    set_grad_enabled(true);
    Tensor y = model->forward(x);
    set_grad_enabled(false);
    CHECK(equal(y.detach(), plain));
  }
}

TEST_CASE("Sequential fuses Conv2d+ReLU at inference (a folded model) with the same bits") {
  manual_seed(13);
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(2, 4, 3).padding(1)), nn::ReLU(),
                       nn::Conv2d(nn::Conv2dOptions(4, 3, 3).bias(false)), nn::ReLU());
  model->eval();
  Tensor x = randn({3, 2, 9, 9});
  NoGradGuard g;
  CHECK(equal(model->forward(x), unfused_forward(model, x)));
}

TEST_CASE("conv2d_affine: scale and shift per output channel, ReLU, and refusal to record") {
  manual_seed(13);
  Tensor x = randn({2, 3, 9, 8}), w = randn({4, 3, 3, 3}), b = randn({4});
  const std::vector<double> scale = {0.5, -2.0, 1.5, 0.0}, shift = {0.1, 0.2, -0.3, 0.4};
  Tensor ref = conv2d(x, w, b, {2, 1}, {1, 1});
  Tensor s = from_vector(std::vector<float>{0.5f, -2.f, 1.5f, 0.f}, {1, 4, 1, 1});
  Tensor t = from_vector(std::vector<float>{0.1f, 0.2f, -0.3f, 0.4f}, {1, 4, 1, 1});
  Tensor affine = add(mul(ref, s), t);
  CHECK_CLOSE(conv2d_affine(x, w, b, scale, shift, false, {2, 1}, {1, 1}), affine, 1e-5, 1e-5);
  CHECK_CLOSE(conv2d_affine(x, w, b, scale, shift, true, {2, 1}, {1, 1}), relu(affine), 1e-5, 1e-5);
  CHECK_THROWS_WITH_AS(conv2d_affine(x, w.clone().requires_grad_(), b, scale, shift, false),
                       doctest::Contains("inference only"), Error);
}

TEST_CASE("conv2d_affine with pool equals max_pool2d(2) of it, bit for bit, on every conv path") {
  manual_seed(14);
  struct Case {
    const char* path;
    int64_t c, o, hw, k, stride, pad;
  };
  // direct (few taps, rows >= 24), padded-width (stride 1, 3x3), im2col (stride 2), 1x1 (x as the
  // column matrix), channel-vector (32k output channels, with AVX-512: pooled in the register
  // tiles, of 64 channels or, as for 96, of 32; one image in bands of windows from 2^20
  // multiply-adds on, as 32 -> 64 at 14x14); odd sizes pool with floor.
  for (const Case& c : {Case{"direct", 1, 16, 27, 3, 1, 1}, Case{"padded width", 6, 16, 11, 3, 1, 1},
                        Case{"im2col", 5, 8, 13, 3, 2, 1}, Case{"1x1", 7, 8, 9, 1, 1, 0},
                        Case{"by channel", 4, 64, 11, 3, 1, 1}, Case{"by channel, 1 input channel", 1, 32, 28, 3, 1, 1},
                        Case{"by channel, stride 2", 8, 32, 15, 3, 2, 1},
                        Case{"by channel, 96 outputs", 3, 96, 10, 3, 1, 1},
                        Case{"by channel, in bands", 32, 64, 14, 3, 1, 1}}) {
    for (int64_t batch : {1, 3}) {
      CAPTURE(c.path);
      CAPTURE(batch);
      Tensor x = randn({batch, c.c, c.hw, c.hw}), w = randn({c.o, c.c, c.k, c.k}), b = randn({c.o});
      x.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();  // a NaN wins its window, as max_pool2d
      for (bool relu : {false, true}) {
        Tensor full = conv2d_affine(x, w, b, {}, {}, relu, c.stride, c.pad);
        Tensor want = max_pool2d(full, {2, 2});
        Tensor got = conv2d_affine(x, w, b, {}, {}, relu, c.stride, c.pad, 1, 1, Tensor(), true);
        REQUIRE(got.shape() == want.shape());
        CHECK(equal(got, want));
        const std::vector<float> v = got.to_vector<float>();
        CHECK(std::any_of(v.begin(), v.end(), [](float f) { return std::isnan(f); }));
        test::same_bits_at_1_and_2_threads(
            [&] { return conv2d_affine(x, w, b, {}, {}, relu, c.stride, c.pad, 1, 1, Tensor(), true); });
      }
    }
  }
  CHECK_THROWS_WITH_AS(conv2d_affine(randn({1, 2, 1, 5}), randn({3, 2, 1, 1}), Tensor(), {}, {}, true, 1, 0, 1, 1,
                                     Tensor(), true),
                       doctest::Contains("2x2 pooling needs an output of at least 2x2, got 1x5"), Error);
}

TEST_CASE("the channel-vector convolution adds its bias, the shortcut and the ReLU as conv2d, add, relu") {
  manual_seed(15);
  const auto geom = [](int64_t n, int64_t c, int64_t hw, int64_t o, int64_t k, int64_t stride, int64_t pad) {
    kernels::Conv2dGeom g{};
    g.n = n, g.c = c, g.h = g.w = hw, g.o = o, g.kh = g.kw = k, g.sh = g.sw = stride, g.ph = g.pw = pad;
    g.dh = g.dw = g.groups = 1;
    g.oh = g.ow = (hw + 2 * pad - k) / stride + 1;
    return g;
  };
  CHECK(kernels::by_channel_fits(geom(1, 32, 7, 64, 3, 1, 1)) == (gemm_kernel() == GemmKernel::Avx512));
  CHECK(kernels::by_channel_fits(geom(1, 16, 14, 32, 3, 1, 1)) == (gemm_kernel() == GemmKernel::Avx512));
  CHECK_FALSE(kernels::by_channel_fits(geom(1, 32, 7, 48, 3, 1, 1)));  // 48 channels: not whole tiles
  // resnet20's 64- and 32-channel convs (6 x 64 and 12 x 32 tiles): stride 1 with a shortcut (one
  // image, a batch, and one image large enough to be split in parallel), stride 2, and the 1x1
  // projection.
  struct Case {
    int64_t n, c, hw, o, k, stride, pad;
  };
  for (const Case& c : {Case{1, 64, 7, 64, 3, 1, 1}, Case{3, 64, 7, 64, 3, 1, 1}, Case{2, 32, 14, 64, 3, 2, 1},
                        Case{2, 32, 14, 64, 1, 2, 0}, Case{1, 32, 14, 32, 3, 1, 1}, Case{3, 16, 28, 32, 3, 2, 1},
                        Case{2, 16, 28, 32, 1, 2, 0}, Case{1, 64, 28, 64, 3, 1, 1}}) {
    CAPTURE(c.n);
    CAPTURE(c.o);
    CAPTURE(c.k);
    CAPTURE(c.stride);
    Tensor x = randn({c.n, c.c, c.hw, c.hw}), w = randn({c.o, c.c, c.k, c.k}), b = randn({c.o});
    x.data<float>()[7] = std::numeric_limits<float>::quiet_NaN();  // the ReLU keeps a NaN, as relu
    const int64_t out_hw = (c.hw + 2 * c.pad - c.k) / c.stride + 1;
    Tensor r = randn({c.n, c.o, out_hw, out_hw});
    Tensor plain = conv2d(x, w, b, c.stride, c.pad);
    for (bool relu_on : {false, true}) {
      CAPTURE(relu_on);
      Tensor want = relu_on ? relu(add(plain, r)) : add(plain, r);
      Tensor got = conv2d_affine(x, w, b, {}, {}, relu_on, c.stride, c.pad, 1, 1, r);
      const std::vector<float> g = got.to_vector<float>(), e = want.to_vector<float>();
      REQUIRE(g.size() == e.size());
      for (size_t i = 0; i < g.size(); ++i) {
        CAPTURE(i);
        REQUIRE(std::isnan(g[i]) == std::isnan(e[i]));  // the NaN's windows, and only those
        if (!std::isnan(e[i])) REQUIRE(std::fabs(g[i] - e[i]) <= 1e-5f * (8.f + std::fabs(e[i])));
      }
      test::same_bits_at_1_and_2_threads(
          [&] { return conv2d_affine(x, w, b, {}, {}, relu_on, c.stride, c.pad, 1, 1, r); });
    }
  }
}
