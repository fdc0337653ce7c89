// The direct convolution kernels (core/kernels/conv_direct.h) against the im2col + GEMM path they
// replace for few taps: forward with and without bias and ReLU, the weight gradient, odd sizes,
// rows shorter and longer than a vector, the same bits at 1 and 2 threads; which shapes conv2d
// sends there, and finite-difference gradients through conv2d.
#include <cmath>
#include <limits>
#include <string>

#include "core/blas.h"
#include "core/kernels/conv.h"
#include "core/kernels/conv_direct.h"
#include "helpers.h"

using namespace wick;

namespace {

struct Case {
  int64_t n, c, h, w, o, kh, kw, ph, pw;
};

std::string describe(const Case& s) {
  return "x " + shape_str({s.n, s.c, s.h, s.w}) + ", w " + shape_str({s.o, s.c, s.kh, s.kw}) + ", padding (" +
         std::to_string(s.ph) + ", " + std::to_string(s.pw) + ")";
}

kernels::Conv2dGeom geom(const Case& s) {
  kernels::Conv2dGeom g{};
  g.n = s.n, g.c = s.c, g.h = s.h, g.w = s.w, g.o = s.o, g.kh = s.kh, g.kw = s.kw;
  g.sh = g.sw = g.dh = g.dw = g.groups = 1;
  g.ph = s.ph, g.pw = s.pw;
  g.oh = s.h + 2 * s.ph - s.kh + 1, g.ow = s.w + 2 * s.pw - s.kw + 1;
  return g;
}

std::vector<float> randn_vector(int64_t n) { return randn({n}).to_vector<float>(); }

// The GEMM path: out[n] = w (o, K) x im2col(x[n]) (K, P) + b, then ReLU (NaN kept).
std::vector<float> gemm_forward(const kernels::Conv2dGeom& g, const std::vector<float>& x,
                                const std::vector<float>& w, const float* b, bool relu) {
  const int64_t K = g.col_rows(), P = g.col_cols();
  std::vector<float> col(static_cast<size_t>(K * P)), out(static_cast<size_t>(g.n * g.o * P));
  for (int64_t n = 0; n < g.n; ++n) {
    kernels::im2col(g, x.data() + n * g.c * g.h * g.w, col.data());
    float* o = out.data() + n * g.o * P;
    gemm(false, false, g.o, P, K, 1.f, w.data(), K, col.data(), P, 0.f, o, P);
    for (int64_t oc = 0; oc < g.o; ++oc)
      for (int64_t p = 0; p < P; ++p) {
        float& v = o[oc * P + p];
        if (b) v += b[oc];
        if (relu) v = v > 0.f || v != v ? v : 0.f;
      }
  }
  return out;
}

// The GEMM path's weight gradient: Σ_n gout[n] (o, P) x im2col(x[n])ᵀ (P, K).
std::vector<float> gemm_weight_grad(const kernels::Conv2dGeom& g, const std::vector<float>& x,
                                    const std::vector<float>& gout) {
  const int64_t K = g.col_rows(), P = g.col_cols();
  std::vector<float> col(static_cast<size_t>(K * P)), gw(static_cast<size_t>(g.o * K), 0.f);
  for (int64_t n = 0; n < g.n; ++n) {
    kernels::im2col(g, x.data() + n * g.c * g.h * g.w, col.data());
    gemm(false, true, g.o, K, P, 1.f, gout.data() + n * g.o * P, P, col.data(), P, 1.f, gw.data(), K);
  }
  return gw;
}

// Close within rtol/atol, NaN exactly where the reference has NaN.
void check_close(const std::vector<float>& got, const std::vector<float>& want, double tol) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const bool ok = std::isnan(want[k]) ? std::isnan(got[k])
                                        : std::fabs(double(got[k]) - want[k]) <= tol * (1 + std::fabs(double(want[k])));
    if (!ok && bad++ == 0) FAIL_CHECK("element ", k, ": got ", got[k], ", want ", want[k]);
  }
  CHECK(bad == 0);
}

// Shapes the kernels take (one group, unit stride, at most 9 taps, output channels a multiple of 8).
const std::vector<Case> cases = {
    {3, 1, 28, 28, 32, 3, 3, 1, 1},  // small-cnn's first conv
    {2, 1, 5, 7, 8, 3, 3, 1, 1},     // rows shorter than a vector (7)
    {2, 3, 5, 7, 16, 3, 1, 0, 0},    // 3 channels, no padding
    {2, 3, 11, 13, 8, 1, 3, 1, 0},   // padding on one side only
    {1, 1, 12, 20, 8, 3, 3, 0, 0},   // rows of 18: the last vector overlaps the one before
    {2, 2, 6, 17, 8, 2, 2, 0, 0},    // rows of exactly two vectors
    {2, 8, 6, 9, 8, 1, 1, 0, 0},     // 1x1 (which conv2d leaves to the GEMM)
};

}  // namespace

TEST_CASE("direct conv kernels match im2col + GEMM: bias or none, ReLU or none, odd sizes") {
  manual_seed(41);
  for (const Case& s : cases) {
    const kernels::Conv2dGeom g = geom(s);
    const std::string shape = describe(s);
    CAPTURE(shape);
    const int64_t K = g.col_rows(), P = g.col_cols();
    std::vector<float> x = randn_vector(g.n * g.c * g.h * g.w), w = randn_vector(g.o * K), b = randn_vector(g.o);
    x[x.size() / 2] = std::numeric_limits<float>::quiet_NaN();  // ReLU keeps NaN, as the GEMM path
    for (bool with_bias : {false, true})
      for (bool relu : {false, true}) {
        CAPTURE(with_bias);
        CAPTURE(relu);
        const float* bias = with_bias ? b.data() : nullptr;
        std::vector<float> out(static_cast<size_t>(g.n * g.o * P), -1.f);
        kernels::conv2d_direct_forward(g, x.data(), w.data(), bias, relu, out.data());
        check_close(out, gemm_forward(g, x, w, bias, relu), 1e-5);
      }
    x[x.size() / 2] = 0.5f;
    const std::vector<float> gout = randn_vector(g.n * g.o * P), gw0 = randn_vector(g.o * K);
    std::vector<float> gw = gw0, want = gemm_weight_grad(g, x, gout);
    kernels::conv2d_direct_weight_grad(g, x.data(), gout.data(), gw.data());
    for (size_t k = 0; k < want.size(); ++k) want[k] += gw0[k];  // the kernel adds into gw
    check_close(gw, want, 1e-4);
  }
}

TEST_CASE("direct conv kernels give the same bits at 1 and 2 threads") {
  manual_seed(42);
  for (const Case& s : {cases[0], cases[2], Case{40, 1, 9, 10, 16, 3, 3, 1, 1}}) {
    const kernels::Conv2dGeom g = geom(s);
    const std::string shape = describe(s);
    CAPTURE(shape);
    const int64_t K = g.col_rows(), P = g.col_cols();
    const std::vector<float> x = randn_vector(g.n * g.c * g.h * g.w), w = randn_vector(g.o * K),
                             b = randn_vector(g.o), gout = randn_vector(g.n * g.o * P);
    test::same_bits_at_1_and_2_threads([&] {
      std::vector<float> out(static_cast<size_t>(g.n * g.o * P));
      kernels::conv2d_direct_forward(g, x.data(), w.data(), b.data(), true, out.data());
      return from_vector(out);
    });
    test::same_bits_at_1_and_2_threads([&] {
      std::vector<float> gw(static_cast<size_t>(g.o * K), 0.f);
      kernels::conv2d_direct_weight_grad(g, x.data(), gout.data(), gw.data());
      return from_vector(gw);
    });
  }
}

TEST_CASE("the direct kernels fit small-cnn's first conv, not its second or a 1x1") {
  // (Its forward runs them only without the AVX-512 kernels; its dL/dw always.)
  CHECK(kernels::direct_conv_fits(geom({64, 1, 28, 28, 32, 3, 3, 1, 1})));
  CHECK_FALSE(kernels::direct_conv_fits(geom({64, 32, 14, 14, 64, 3, 3, 1, 1})));
  CHECK_FALSE(kernels::direct_conv_fits(geom({64, 8, 28, 28, 32, 1, 1, 0, 0})));
}

TEST_CASE("gradient check: conv2d through the direct kernels") {
  using V = std::vector<Tensor>;
  manual_seed(43);
  REQUIRE(kernels::direct_conv_fits(geom({2, 1, 3, 26, 8, 3, 3, 1, 1})));
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}); },
                  {test::leaf({2, 1, 3, 26}), test::leaf({8, 1, 3, 3}), test::leaf({8})});
  REQUIRE(kernels::direct_conv_fits(geom({1, 2, 2, 25, 8, 2, 2, 0, 1})));
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}, {0, 1}); },
                  {test::leaf({1, 2, 2, 25}), test::leaf({8, 2, 2, 2})});
}
