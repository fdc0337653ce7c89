// The direct AVX-512 convolution (core/kernels/conv_avx512.h) against im2col + wick's AVX-512 GEMM,
// bit for bit: rows wider and narrower than a vector (paired rows), output channels that leave
// tiles of 4, 2 and 1, more than one and two blocks of 256 taps (a block boundary inside a tap row
// that reads only padding), bias, an added input (also the output itself), ReLU with NaN, any
// split into channel and row blocks; conv2d's choice of it and its gradients through conv2d.
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "core/blas.h"
#include "core/kernels/conv.h"
#include "core/kernels/conv_avx512.h"
#include "core/kernels/gemm.h"
#include "helpers.h"

using namespace wick;

namespace {

struct Case {
  int64_t c, h, w, o, kh, kw, ph, pw;
};

std::string describe(const Case& s) {
  return "x " + shape_str({s.c, s.h, s.w}) + ", w " + shape_str({s.o, s.c, s.kh, s.kw}) + ", padding (" +
         std::to_string(s.ph) + ", " + std::to_string(s.pw) + ")";
}

kernels::Conv2dGeom geom(const Case& s) {
  kernels::Conv2dGeom g{};
  g.n = 1, g.c = s.c, g.h = s.h, g.w = s.w, g.o = s.o, g.kh = s.kh, g.kw = s.kw;
  g.sh = g.sw = g.dh = g.dw = g.groups = 1;
  g.ph = s.ph, g.pw = s.pw;
  g.oh = s.h + 2 * s.ph - s.kh + 1, g.ow = s.w + 2 * s.pw - s.kw + 1;
  return g;
}

std::vector<float> randn_vector(int64_t n) { return randn({n}).to_vector<float>(); }

// What the padded-width form computes: w (o, K) x im2col(x) (K, P) by wick's GEMM over rows (as
// the padded-width form calls it, which sends no single row to sgemv), then + add, + b,
// ReLU (NaN kept), in that order.
std::vector<float> reference(const kernels::Conv2dGeom& g, const std::vector<float>& x, const std::vector<float>& w,
                             const float* b, const float* add, bool relu) {
  const int64_t K = g.col_rows(), P = g.col_cols();
  std::vector<float> col(static_cast<size_t>(K * P)), out(static_cast<size_t>(g.o * P));
  kernels::im2col(g, x.data(), col.data());
  std::vector<const float*> rows(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) rows[k] = col.data() + k * P;
  gemm_rows_serial(false, false, g.o, P, K, 1.f, w.data(), K, rows.data(), 0.f, out.data(), P);
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t p = 0; p < P; ++p) {
      float& v = out[oc * P + p];
      if (add) v += add[oc * P + p];
      if (b) v += b[oc];
      if (relu) v = v > 0.f || v != v ? v : 0.f;
    }
  return out;
}

// Same bits, NaN where the reference has NaN.
void check_same(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    const bool ok = std::isnan(want[k]) ? std::isnan(got[k]) : got[k] == want[k];
    if (!ok && bad++ == 0) FAIL_CHECK("element ", k, ": got ", got[k], ", want ", want[k]);
  }
  CHECK(bad == 0);
}

const std::vector<Case> cases = {
    {16, 28, 28, 16, 3, 3, 1, 1},  // resnet20's first stage: rows of two vectors (16 + 12)
    {32, 14, 14, 32, 3, 3, 1, 1},  // second stage: 288 taps, two blocks
    {64, 7, 7, 64, 3, 3, 1, 1},    // third stage: paired rows, 576 taps, three blocks
    {29, 6, 5, 15, 3, 3, 2, 2},    // dL/dx's padding: a block boundary (tap 256) in a padding-only tap row; 8+4+2+1 channels
    {3, 9, 37, 5, 5, 5, 2, 2},     // 5x5, rows of three vectors, 4+1 channels
    {5, 8, 8, 6, 3, 2, 0, 1},      // no padding in one direction, 4+2 channels
    {2, 1, 40, 9, 1, 3, 0, 1},     // one row high, 1x3
};

}  // namespace

TEST_CASE("direct AVX-512 conv gives im2col + GEMM's bits: bias, added input, ReLU, any blocks") {
  if (!kernels::cpu_has_avx512()) return;  // nothing to test: conv2d never runs it here
  const GemmKernel before = gemm_kernel();
  set_gemm_kernel(GemmKernel::Avx512);
  manual_seed(61);
  for (const Case& s : cases) {
    const kernels::Conv2dGeom g = geom(s);
    const std::string shape = describe(s);
    CAPTURE(shape);
    REQUIRE(kernels::conv_avx512_fits(g));
    const int64_t K = g.col_rows(), P = g.col_cols();
    std::vector<float> x = randn_vector(g.c * g.h * g.w), w = randn_vector(g.o * K), b = randn_vector(g.o),
                       add = randn_vector(g.o * P);
    x[x.size() / 3] = std::numeric_limits<float>::quiet_NaN();  // ReLU keeps NaN
    for (int variant = 0; variant < 4; ++variant) {
      const bool with_bias = variant & 1, with_add = variant & 2, relu = variant != 0;
      CAPTURE(variant);
      const float* bias = with_bias ? b.data() : nullptr;
      const std::vector<float> want = reference(g, x, w, bias, with_add ? add.data() : nullptr, relu);
      std::vector<float> out(static_cast<size_t>(g.o * P), -7.f);
      kernels::conv2d_avx512(g, x.data(), w.data(), bias, relu, out.data(), with_add ? add.data() : nullptr, 0, g.o,
                             0, g.oh);
      check_same(out, want);
      if (with_add) {  // accumulating into the output: add is out
        std::vector<float> acc = add;
        kernels::conv2d_avx512(g, x.data(), w.data(), bias, relu, acc.data(), acc.data(), 0, g.o, 0, g.oh);
        check_same(acc, want);
      }
      // In blocks of 3 channels x 3 rows (odd on purpose: a paired vector's second row in the next block).
      std::vector<float> blocks(static_cast<size_t>(g.o * P), -7.f);
      for (int64_t o0 = 0; o0 < g.o; o0 += 3)
        for (int64_t y0 = 0; y0 < g.oh; y0 += 3)
          kernels::conv2d_avx512(g, x.data(), w.data(), bias, relu, blocks.data(), with_add ? add.data() : nullptr,
                                 o0, std::min(g.o, o0 + 3), y0, std::min(g.oh, y0 + 3));
      check_same(blocks, want);
    }
  }
  set_gemm_kernel(before);
}

TEST_CASE("direct AVX-512 conv gives im2col + GEMM's bits on random shapes") {
  if (!kernels::cpu_has_avx512()) return;
  const GemmKernel before = gemm_kernel();
  set_gemm_kernel(GemmKernel::Avx512);
  manual_seed(63);
  std::mt19937 gen(63);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); };
  for (int trial = 0; trial < 300; ++trial) {
    Case s{pick(1, 20), pick(1, 30), pick(1, 40), pick(1, 20), pick(1, 5), pick(1, 5), 0, 0};
    s.ph = pick(0, s.kh - 1), s.pw = pick(0, s.kw - 1);
    const kernels::Conv2dGeom g = geom(s);
    if (g.oh < 1 || g.ow < 1 || !kernels::conv_avx512_fits(g)) continue;
    const std::string shape = describe(s);
    CAPTURE(shape);
    const int64_t K = g.col_rows(), P = g.col_cols();
    std::vector<float> x = randn_vector(g.c * g.h * g.w), w = randn_vector(g.o * K), b = randn_vector(g.o);
    std::vector<float> out(static_cast<size_t>(g.o * P), -7.f);
    kernels::conv2d_avx512(g, x.data(), w.data(), b.data(), true, out.data(), nullptr, 0, g.o, 0, g.oh);
    check_same(out, reference(g, x, w, b.data(), nullptr, true));
  }
  set_gemm_kernel(before);
}

TEST_CASE("conv2d runs stride-1 convs through the direct AVX-512 kernel, not 1x1, strided or grouped ones") {
  CHECK(kernels::conv_avx512_fits(geom({16, 28, 28, 16, 3, 3, 1, 1})));
  CHECK(kernels::conv_avx512_fits(geom({16, 28, 28, 16, 1, 1, 1, 1})));  // 1x1 with padding: no plain GEMM
  CHECK_FALSE(kernels::conv_avx512_fits(geom({16, 28, 28, 16, 1, 1, 0, 0})));
  CHECK_FALSE(kernels::conv_avx512_fits(geom({4, 20, 20, 4, 17, 3, 1, 1})));  // a kernel taller than 16
  kernels::Conv2dGeom strided = geom({16, 28, 28, 16, 3, 3, 1, 1});
  strided.sh = strided.sw = 2;
  CHECK_FALSE(kernels::conv_avx512_fits(strided));
  kernels::Conv2dGeom grouped = geom({16, 28, 28, 16, 3, 3, 1, 1});
  grouped.groups = 2;
  CHECK_FALSE(kernels::conv_avx512_fits(grouped));
}

TEST_CASE("gradient check: conv2d through the direct AVX-512 kernel (forward and dL/dx)") {
  if (!kernels::cpu_has_avx512()) return;
  using V = std::vector<Tensor>;
  const GemmKernel before = gemm_kernel();
  set_gemm_kernel(GemmKernel::Avx512);
  manual_seed(62);
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], v[2], {1, 1}, {1, 1}); },
                  {test::leaf({2, 3, 5, 18}), test::leaf({9, 3, 3, 3}), test::leaf({9})});
  test::gradcheck([](const V& v) { return conv2d(v[0], v[1], Tensor(), {1, 1}, {1, 0}); },
                  {test::leaf({1, 4, 6, 6}), test::leaf({5, 4, 3, 2})});
  set_gemm_kernel(before);
}
