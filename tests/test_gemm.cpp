// wick's own AVX-512 GEMM (core/kernels/gemm.h) against a float64 reference and against the
// OpenBLAS path: every transpose, edge sizes around the register tile and the packed blocks,
// alpha and beta, padded row strides. On a CPU without AVX-512 the kernel cases only say so.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/blas.h"
#include "core/kernels/gemm.h"
#include "helpers.h"

using namespace wick;

namespace {

struct Case {
  bool ta, tb;
  int64_t m, n, k;
};

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

// Runs C = alpha op(A) op(B) + beta C through `mm` with row strides padded by 3 and checks every
// element of C against float64 within a few float32 roundings of sum |a||b|, and that the padding
// of C is untouched.
template <typename Mm>
void check_against_float64(const Case& s, float alpha, float beta, Mm mm, std::mt19937& rng) {
  const int64_t lda = (s.ta ? s.m : s.k) + 3, ldb = (s.tb ? s.k : s.n) + 3, ldc = s.n + 3;
  std::vector<float> a = random_vector(static_cast<size_t>((s.ta ? s.k : s.m) * lda), rng);
  std::vector<float> b = random_vector(static_cast<size_t>((s.tb ? s.n : s.k) * ldb), rng);
  std::vector<float> c = random_vector(static_cast<size_t>(s.m * ldc), rng), c0 = c;
  if (beta == 0.f)  // beta 0 assigns: C's old values, NaN included, must not show through
    for (auto& x : c) x = std::numeric_limits<float>::quiet_NaN();
  mm(s.ta, s.tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double acc = 0, mag = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        const double x = s.ta ? a[p * lda + i] : a[i * lda + p], y = s.tb ? b[j * ldb + p] : b[p * ldb + j];
        acc += x * y;
        mag += std::fabs(x * y);
      }
      const double want = alpha * acc + (beta == 0.f ? 0.0 : beta * double(c0[i * ldc + j]));
      const double got = c[i * ldc + j];
      REQUIRE_MESSAGE(std::fabs(got - want) <= 1e-6 * (s.k + 4) * (std::fabs(alpha) * mag + 1.0),
                      "C[", i, ",", j, "] = ", got, ", want ", want);
    }
    for (int64_t j = s.n; j < ldc; ++j) REQUIRE_MESSAGE(std::isnan(c[i * ldc + j]) == (beta == 0.f), "padding written");
  }
}

}  // namespace

TEST_CASE("gemm_avx512 matches float64 for every transpose and edge size") {
  if (!kernels::cpu_has_avx512()) {
    MESSAGE("this CPU has no AVX-512: OpenBLAS runs every product, nothing to check");
    return;
  }
  std::mt19937 rng(7);
  // Sizes on both sides of the 8-row tile, the 16-column vector, the 48-column tile, the 192-row
  // and 3072-column packed blocks and the 256-deep depth block.
  const std::vector<Case> cases = {
      {false, false, 1, 1, 1},       {false, false, 7, 15, 3},      {false, false, 8, 16, 256},
      {false, false, 9, 17, 257},    {false, false, 17, 47, 300},   {false, false, 64, 49, 576},
      {false, false, 200, 100, 20},  {false, false, 5, 3100, 9},    {false, true, 3, 48, 520},
      {false, true, 64, 288, 196},   {false, true, 13, 50, 7},      {true, false, 288, 196, 64},
      {true, false, 193, 33, 5},     {true, true, 11, 97, 31},      {true, true, 1, 2, 600}};
  for (const Case& s : cases)
    for (auto [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{1.f, 1.f}, std::pair{-0.5f, 0.25f}}) {
      CAPTURE(s.ta);
      CAPTURE(s.tb);
      CAPTURE(s.m);
      CAPTURE(s.n);
      CAPTURE(s.k);
      CAPTURE(alpha);
      CAPTURE(beta);
      check_against_float64(s, alpha, beta, kernels::gemm_avx512, rng);
    }
}

TEST_CASE("gemm runs the chosen kernel and both match float64") {
  std::mt19937 rng(3);
  const GemmKernel before = gemm_kernel();
  std::vector<GemmKernel> kernels_here = {GemmKernel::OpenBlas};
  if (kernels::cpu_has_avx512()) kernels_here.push_back(GemmKernel::Avx512);
  else CHECK_THROWS_WITH(set_gemm_kernel(GemmKernel::Avx512), "set_gemm_kernel: this CPU has no AVX-512");
  for (GemmKernel kernel : kernels_here) {
    CAPTURE(gemm_kernel_name(kernel));
    set_gemm_kernel(kernel);
    CHECK(gemm_kernel() == kernel);
    for (const Case& s : {Case{false, false, 300, 700, 40}, Case{true, true, 129, 513, 17}, Case{false, true, 1, 70, 9}})
      check_against_float64(s, 1.f, 0.5f, gemm, rng);
  }
  set_gemm_kernel(before);
}

TEST_CASE("gemm gives the same bits at 1 and 2 threads, and as one serial call with AVX-512") {
  // gemm cuts C into blocks by shape and runs each through gemm_serial on a worker. Either kernel
  // gives the same bits at any thread count; wick's own sums each element in an order set by k
  // alone, so its blocks also equal one call over all of C.
  std::mt19937 rng(11);
  const int64_t m = 300, n = 1100, k = 70;
  std::vector<float> a = random_vector(m * k, rng), b = random_vector(k * n, rng);
  std::vector<float> whole(m * n), blocked(m * n), one_thread(m * n);
  const GemmKernel before = gemm_kernel();
  for (GemmKernel kernel : {GemmKernel::OpenBlas, GemmKernel::Avx512}) {
    if (kernel == GemmKernel::Avx512 && !kernels::cpu_has_avx512()) continue;
    CAPTURE(gemm_kernel_name(kernel));
    set_gemm_kernel(kernel);
    gemm_serial(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, whole.data(), n);
    set_num_threads(1);
    gemm(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, one_thread.data(), n);
    set_num_threads(2);
    gemm(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, blocked.data(), n);
    CHECK(std::memcmp(one_thread.data(), blocked.data(), whole.size() * sizeof(float)) == 0);
    if (kernel == GemmKernel::Avx512)
      CHECK(std::memcmp(whole.data(), blocked.data(), whole.size() * sizeof(float)) == 0);
  }
  set_num_threads(0);
  set_gemm_kernel(before);
}

namespace {

struct ConvCase {
  int64_t n, c, h, w, o, kh, kw, stride, pad, groups;
};

// conv2d's output and its three gradients (for the loss sum(out * gout)) in float64, from the
// definition: out[n, oc, y, x] = b[oc] + Σ w[oc, ci, i, j] x[n, g*cg + ci, y*s - p + i, x*s - p + j].
struct ConvReference {
  std::vector<double> out, gx, gw, gb;
};
ConvReference conv_reference(const ConvCase& k, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, const std::vector<float>& gout, int64_t oh, int64_t ow) {
  const int64_t cg = k.c / k.groups, og = k.o / k.groups;
  ConvReference r{std::vector<double>(gout.size()), std::vector<double>(x.size()), std::vector<double>(w.size()),
                  std::vector<double>(b.size())};
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t oc = 0; oc < k.o; ++oc)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          const int64_t at = ((n * k.o + oc) * oh + y) * ow + xo;
          double acc = b[oc];
          r.gb[oc] += gout[at];
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t i = 0; i < k.kh; ++i)
              for (int64_t j = 0; j < k.kw; ++j) {
                const int64_t iy = y * k.stride - k.pad + i, ix = xo * k.stride - k.pad + j;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
                const int64_t xi = ((n * k.c + (oc / og) * cg + ci) * k.h + iy) * k.w + ix;
                const int64_t wi = ((oc * cg + ci) * k.kh + i) * k.kw + j;
                acc += double(w[wi]) * x[xi];
                r.gx[xi] += double(w[wi]) * gout[at];
                r.gw[wi] += double(x[xi]) * gout[at];
              }
          r.out[at] = acc;
        }
  return r;
}

void check_close(const Tensor& got, const std::vector<double>& want, const char* what) {
  CAPTURE(what);
  const std::vector<float> g = got.to_vector<float>();
  REQUIRE(g.size() == want.size());
  double scale = 1;
  for (double v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < g.size(); ++i) REQUIRE_MESSAGE(std::fabs(g[i] - want[i]) <= 1e-5 * scale, i, ": ", g[i], " vs ", want[i]);
}

}  // namespace

TEST_CASE("conv2d forward and gradients match float64 with either GEMM kernel, the same at 1 and 2 threads") {
  // Covers the padded-width form (stride 1, one group; with OpenBLAS the copy of its row pointers
  // into one matrix) and the im2col path (stride 2, groups).
  // The first eight run the padded-width form (odd sizes, one image, twenty images, 5x5; with
  // AVX-512 the third is a 32-channel conv and takes the channel-vector form), the next two im2col.
  const std::vector<ConvCase> cases = {
      {2, 8, 9, 11, 12, 3, 3, 1, 1, 1}, {3, 16, 7, 7, 8, 3, 3, 1, 0, 1}, {1, 16, 14, 14, 32, 3, 3, 1, 1, 1},
      {20, 8, 5, 6, 8, 3, 3, 1, 1, 1},  {2, 5, 9, 11, 12, 3, 3, 1, 1, 1}, {1, 3, 10, 9, 8, 5, 5, 1, 2, 1},
      {1, 6, 28, 28, 16, 3, 3, 1, 1, 1}, {1, 64, 7, 7, 40, 3, 3, 1, 1, 1}, {2, 4, 8, 8, 6, 1, 1, 2, 0, 1},
      {2, 4, 8, 9, 6, 3, 3, 2, 1, 2},
      // With AVX-512, 32, 64 and 128 output channels take the channel-vector form: one image split
      // in chunks of pixel tiles (7x7: 49 pixels, a short last tile), stride 2, a 1x1 with stride 2
      // and two channel tiles, no padding (the image read in place), 5x5 with a short last tile,
      // small planes, 32 channels with stride 2 and with 96 (three 32-channel tiles). Their dL/dw
      // runs in that form too, in tiles of 6 or 12 taps: the last tile of taps is short for the
      // 1x1 (8 taps), the 5x5 (75) and the 5-channel 3x3s (45).
      {1, 32, 7, 7, 64, 3, 3, 1, 1, 1}, {3, 16, 14, 14, 64, 3, 3, 2, 1, 1}, {2, 8, 9, 11, 128, 1, 1, 2, 0, 1},
      {2, 5, 6, 5, 64, 3, 3, 1, 0, 1},  {1, 3, 10, 9, 64, 5, 5, 1, 2, 1}, {4, 32, 8, 8, 64, 3, 3, 1, 1, 1},
      {4, 64, 4, 4, 128, 3, 3, 1, 1, 1}, {3, 16, 13, 12, 32, 3, 3, 2, 1, 1}, {2, 8, 7, 9, 96, 3, 3, 1, 1, 1},
      {2, 5, 9, 8, 32, 3, 3, 1, 1, 1},
      // 3x3 convs of 16k channels (but not 32k) compute dL/dw with 16 channels across the vector,
      // two input channels' taps a tile: an odd channel count with stride 2, and 48 channels
      // unpadded (the 16-channel cases above run it too).
      {2, 5, 9, 10, 16, 3, 3, 2, 1, 1}, {2, 4, 6, 7, 48, 3, 3, 1, 0, 1},
      // One image with enough work (>= 2^20 multiply-adds) for conv2d_affine (the fused inference
      // path) to cut it in bands of rows, each padded, computed and stored apart: a 7x7 grid of 40
      // channels (padded-width, seven bands of one row; its dL/dx, 1024 channels, is a
      // channel-vector convolution), 64 channels at 28x28 (channel-vector, 16 bands), resnet20's
      // 16- and 32-channel layers (two bands; the 32-channel one's 17 tiles of 12 pixels cut
      // mid-row) and a stride-2 one. With AVX-512, every stride-1 case above with 32k input
      // channels computes dL/dx in the channel-vector form too.
      {1, 1024, 7, 7, 40, 3, 3, 1, 1, 1}, {1, 64, 28, 28, 64, 3, 3, 1, 1, 1}, {1, 16, 28, 28, 16, 3, 3, 1, 1, 1},
      {1, 32, 14, 14, 32, 3, 3, 1, 1, 1}, {1, 32, 28, 28, 64, 3, 3, 2, 1, 1}};
  const GemmKernel before = gemm_kernel();
  std::vector<GemmKernel> kernels_here = {GemmKernel::OpenBlas};
  if (kernels::cpu_has_avx512()) kernels_here.push_back(GemmKernel::Avx512);
  manual_seed(4);
  for (const ConvCase& k : cases) {
    CAPTURE(k.c);
    CAPTURE(k.h);
    CAPTURE(k.kh);
    CAPTURE(k.stride);
    CAPTURE(k.pad);
    CAPTURE(k.groups);
    Tensor x = randn({k.n, k.c, k.h, k.w}), w = randn({k.o, k.c / k.groups, k.kh, k.kw}), b = randn({k.o});
    const int64_t oh = (k.h + 2 * k.pad - k.kh) / k.stride + 1, ow = (k.w + 2 * k.pad - k.kw) / k.stride + 1;
    Tensor gout = randn({k.n, k.o, oh, ow});
    const ConvReference ref = conv_reference(k, x.to_vector<float>(), w.to_vector<float>(), b.to_vector<float>(),
                                             gout.to_vector<float>(), oh, ow);
    for (GemmKernel kernel : kernels_here) {
      CAPTURE(gemm_kernel_name(kernel));
      set_gemm_kernel(kernel);
      std::vector<std::vector<float>> bits;  // out and the three gradients, at 1 then 2 threads
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        Tensor xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_(), bg = b.clone().requires_grad_();
        Tensor out = conv2d(xg, wg, bg, k.stride, k.pad, 1, k.groups);
        sum(mul(out, gout)).backward();
        check_close(out, ref.out, "out");
        check_close(xg.grad(), ref.gx, "dL/dx");
        check_close(wg.grad(), ref.gw, "dL/dw");
        check_close(bg.grad(), ref.gb, "dL/db");
        for (const Tensor& t : {out, xg.grad(), wg.grad(), bg.grad()}) bits.push_back(t.to_vector<float>());
        NoGradGuard no_grad;  // the inference path, in bands for one image
        Tensor fused = conv2d_affine(x, w, b, {}, {}, false, k.stride, k.pad, 1, k.groups);
        check_close(fused, ref.out, "conv2d_affine out");
        bits.push_back(fused.to_vector<float>());
      }
      for (size_t i = 0; i < 5; ++i) CHECK_MESSAGE(bits[i] == bits[i + 5], "tensor ", i, " differs between 1 and 2 threads");
    }
  }
  set_num_threads(0);
  set_gemm_kernel(before);
}
