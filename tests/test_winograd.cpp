// Winograd F(2x2, 3x3), what a stride-1 3x3 convolution with padding 1 runs on when its weights
// come packed (pack_conv2d_weight, as every fused inference layer's do) and wick's AVX-512 kernels
// are in use: exact where the arithmetic is, within rounding of conv2d elsewhere, with conv2d's
// bias, shortcut, ReLU and pooling, the same bits at 1 and 2 threads.
#include <cmath>
#include <limits>

#include "core/blas.h"
#include "helpers.h"

using namespace wick;

namespace {

struct Case {
  int64_t n, c, o, h, w;
};

// Every tile count and band: 16, 32, 48, 64 and 96 output channels (register tiles of 16, 32 and
// 64 channels), 16 to 64 input channels, planes from 1x1 to 15x9 (odd sizes: a last tile half
// outside), one image large enough (2^20 multiply-adds) to run in bands of tile rows; and 3 input
// channels, which the channel-vector form runs instead.
const Case kCases[] = {{2, 16, 16, 28, 28}, {1, 16, 32, 1, 1},   {2, 16, 48, 2, 3}, {3, 33, 64, 5, 4},
                       {2, 32, 32, 14, 14}, {1, 64, 64, 7, 7},   {2, 16, 96, 15, 9},
                       {1, 64, 64, 14, 14}, {2, 3, 32, 6, 6}};

bool winograd_runs(const Case& k) {
  const Tensor packed = pack_conv2d_weight(zeros({k.o, k.c, 3, 3}), 1, 1);
  return packed.defined() && packed.numel() == 16 * k.c * k.o;
}

Tensor conv(const Tensor& x, const Tensor& w, const Tensor& b, bool relu, const Tensor& add, bool pool,
            bool packed) {
  return conv2d_affine(x, w, b, {}, {}, relu, 1, 1, 1, 1, add, pool,
                       packed ? pack_conv2d_weight(w, 1, 1) : Tensor());
}

// Values from a small set of integers, so every sum (and Winograd's transforms: the weights are
// multiples of 4, which G g Gᵀ divides by at most 4) is exact in float.
Tensor small_integers(const Shape& shape, int64_t span, float step) {
  std::vector<float> v = rand(shape).to_vector<float>();
  for (float& f : v) f = step * static_cast<float>(static_cast<int64_t>(f * static_cast<float>(2 * span + 1)) - span);
  return from_vector(v, shape);
}

}  // namespace

TEST_CASE("Winograd F(2x2, 3x3) gives conv2d's sums exactly where they are exact in float") {
  // Which kernel runs shows in the packed size: 16 positions x c x o, with AVX-512, from 16 input
  // channels on.
  CHECK(winograd_runs({1, 16, 16, 4, 4}) == (gemm_kernel() == GemmKernel::Avx512));
  CHECK_FALSE(winograd_runs({1, 8, 32, 4, 4}));
  manual_seed(31);
  NoGradGuard guard;
  for (const Case& k : kCases) {
    CAPTURE(k.c);
    CAPTURE(k.o);
    CAPTURE(k.h);
    CAPTURE(k.w);
    const Tensor x = small_integers({k.n, k.c, k.h, k.w}, 3, 1.f), w = small_integers({k.o, k.c, 3, 3}, 2, 4.f);
    const Tensor b = small_integers({k.o}, 5, 1.f), r = small_integers({k.n, k.o, k.h, k.w}, 5, 1.f);
    for (bool relu : {false, true})
      for (bool with_add : {false, true})
        for (bool pool : {false, true}) {
          if (pool && (k.h < 2 || k.w < 2)) continue;
          CAPTURE(relu);
          CAPTURE(with_add);
          CAPTURE(pool);
          const Tensor add = with_add ? r : Tensor();
          CHECK(equal(conv(x, w, b, relu, add, pool, true), conv(x, w, b, relu, add, pool, false)));
        }
  }
}

TEST_CASE("Winograd F(2x2, 3x3) on random data: within rounding of conv2d, same bits at 1 and 2 threads") {
  manual_seed(32);
  NoGradGuard guard;
  for (const Case& k : kCases) {
    CAPTURE(k.c);
    CAPTURE(k.o);
    CAPTURE(k.h);
    const Tensor x = randn({k.n, k.c, k.h, k.w}), w = randn({k.o, k.c, 3, 3}), b = randn({k.o});
    const Tensor r = randn({k.n, k.o, k.h, k.w});
    // The error bound scales with the sum of the products' magnitudes, conv2d(|x|, |w|).
    const std::vector<float> scale = conv2d(abs(x), abs(w), Tensor(), 1, 1).to_vector<float>();
    const std::vector<float> got = conv(x, w, b, false, r, false, true).to_vector<float>();
    const std::vector<float> want = add(conv2d(x, w, b, 1, 1), r).to_vector<float>();
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / (scale[i] + std::fabs(want[i]) + 1e-30));
    CHECK(worst < 1e-6);
    if (winograd_runs(k)) CHECK(worst > 0);  // not the direct form's sums by accident
    test::same_bits_at_1_and_2_threads([&] { return conv(x, w, b, true, r, false, true); });
    if (k.h >= 2 && k.w >= 2) {  // pooling in the output transform: max_pool2d of the same sums
      const Tensor full = conv(x, w, b, true, Tensor(), false, true);
      CHECK(equal(conv(x, w, b, true, Tensor(), true, true), max_pool2d(full, {2, 2})));
      test::same_bits_at_1_and_2_threads([&] { return conv(x, w, b, true, Tensor(), true, true); });
    }
  }
}

TEST_CASE("Winograd F(2x2, 3x3): a NaN input reaches the outputs whose windows hold it, as in conv2d") {
  // Each output of a tile reads only the transformed columns (and rows) that its own 3x3 window
  // feeds, so a NaN spreads exactly as in the direct sum. (An infinity does not: the transforms
  // subtract it from itself, so its outputs read NaN where conv2d's read +-inf.)
  manual_seed(33);
  NoGradGuard guard;
  const Case k{1, 16, 32, 9, 9};
  Tensor x = randn({k.n, k.c, k.h, k.w});
  const Tensor w = randn({k.o, k.c, 3, 3}), b = randn({k.o});
  x.data<float>()[3 * 9 + 4] = std::numeric_limits<float>::quiet_NaN();  // channel 0, row 3, column 4
  x.data<float>()[81 + 8] = std::numeric_limits<float>::quiet_NaN();      // channel 1, row 0, column 8
  const std::vector<float> got = conv(x, w, b, false, Tensor(), false, true).to_vector<float>();
  const std::vector<float> want = conv2d(x, w, b, 1, 1).to_vector<float>();
  int64_t nan = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(std::isnan(got[i]) == std::isnan(want[i]));
    nan += std::isnan(want[i]);
  }
  CHECK(nan == k.o * (9 + 4));  // 3x3 windows round (3, 4); 2x2 round the corner (0, 8)
}
