// 2-D pooling kernels with PyTorch's window rules. Planes (one per image and channel) run in
// parallel; each plane is walked in one fixed order, so results do not depend on the thread count.
#include "core/kernels/pool.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "core/blas.h"
#include "core/kernels/pool_avx512.h"
#include "core/parallel.h"

namespace wick::kernels {
namespace {

int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Planes per parallel chunk, so a chunk holds roughly 32k window cells.
int64_t plane_grain(int64_t cells_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(cells_per_plane, 1)); }

// The windows along one dim: output i covers input [start[i], end[i]) (clipped to the input)
// stepping by the dilation, and spans padded[i] cells of the padded input (average pooling's
// count_include_pad divisor). As PyTorch: clipped to the padded input first, then to the input.
struct Windows {
  std::vector<int64_t> start, end, padded;
};

Windows windows(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  Windows w{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<int64_t>(out)};
  for (int64_t i = 0; i < out; ++i) {
    int64_t s = i * stride - pad;
    const int64_t e_pad = std::min(s + (kernel - 1) * dilation + 1, in + pad);
    w.padded[i] = e_pad - s;
    while (s < 0) s += dilation;
    w.start[i] = s;
    w.end[i] = std::max(s, std::min(e_pad, in));
  }
  return w;
}

// Adaptive bin i of n over a length: [floor(i*len/n), ceil((i+1)*len/n)).
int64_t bin_start(int64_t i, int64_t len, int64_t n) { return (i * len) / n; }
int64_t bin_end(int64_t i, int64_t len, int64_t n) { return ((i + 1) * len + n - 1) / n; }

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

// An int32 that orders like the float: larger for larger values, equal for -0 and +0 (NaN is
// handled apart). Comparing these keeps the 2x2 loop below free of float compares on selected
// values, which GCC would neither vectorize nor turn into branch-free code.
int32_t order_key(float x) {
  const int32_t b = std::bit_cast<int32_t>(x);
  const int32_t k = b ^ ((b >> 31) & 0x7fffffff);  // negative floats: reverse their order
  return k - (k >> 31);                             // -0 (key -1) joins +0
}

// Masked select: a where mask is all ones, b where it is 0.
int32_t select_bits(int32_t mask, int32_t a, int32_t b) { return (a & mask) | (b & ~mask); }

// The winner of each horizontal pair (x[2t], x[2t+1]), t < n: its value, order key and column
// (0 or 1; the left one on a tie). Returns whether any value was NaN.
int32_t max_pairs(const float* __restrict x, int64_t n, float* __restrict v, int32_t* __restrict key,
                  int32_t* __restrict right) {
  int32_t nan = 0;
  for (int64_t t = 0; t < n; ++t) {
    const float a = x[2 * t], b = x[2 * t + 1];
    const int32_t ka = order_key(a), kb = order_key(b), m = -static_cast<int32_t>(kb > ka);
    v[t] = std::bit_cast<float>(select_bits(m, std::bit_cast<int32_t>(b), std::bit_cast<int32_t>(a)));
    key[t] = select_bits(m, kb, ka);
    right[t] = m & 1;
    nan |= (a != a) | (b != b);
  }
  return nan;
}

// The common 2x2 window, stride 2, no padding or dilation, with the general loop's rule (first
// maximum in scan order; a NaN takes over): the top and bottom pairs of every window first, in
// one long loop over the plane's rows, then top against bottom (the bottom wins only when
// strictly larger). Branch-free selects on integer order keys, so both passes vectorize.
// v (2*oh*ow floats) and keys (2 * 2*oh*ow) are scratch for the pair winners.
void max_pool2x2_plane(const float* src, int64_t w, int64_t oh, int64_t ow, float* o, int32_t* id, float* v,
                       int32_t* keys) {
  const int64_t pairs = 2 * oh * ow;
  int32_t* key = keys;
  int32_t* right = keys + pairs;
  int32_t nan = 0;
  if (w == 2 * ow) {  // the used rows are back to back: one loop over all their pairs
    nan = max_pairs(src, pairs, v, key, right);
  } else {
    for (int64_t r = 0; r < 2 * oh; ++r) nan |= max_pairs(src + r * w, ow, v + r * ow, key + r * ow, right + r * ow);
  }
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t t0 = 2 * oy * ow, t1 = t0 + ow;
    for (int64_t ox = 0; ox < ow; ++ox) {
      const int32_t m = -static_cast<int32_t>(key[t1 + ox] > key[t0 + ox]);
      o[oy * ow + ox] = std::bit_cast<float>(select_bits(m, std::bit_cast<int32_t>(v[t1 + ox]),
                                                         std::bit_cast<int32_t>(v[t0 + ox])));
    }
    if (id)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int32_t m = -static_cast<int32_t>(key[t1 + ox] > key[t0 + ox]);
        id[oy * ow + ox] =
            static_cast<int32_t>((2 * oy + (m & 1)) * w + 2 * ox + select_bits(m, right[t1 + ox], right[t0 + ox]));
      }
  }
  if (nan)  // the last NaN in scan order wins
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t at = 2 * oy * w + 2 * ox;
        for (int64_t q : {at, at + 1, at + w, at + w + 1})
          if (std::isnan(src[q])) {
            o[oy * ow + ox] = src[q];
            if (id) id[oy * ow + ox] = static_cast<int32_t>(q);
          }
      }
}

}  // namespace

void max_pool2x2_serial(int64_t planes, int64_t h, int64_t w, const float* in, float* out, int32_t* idx) {
  if (gemm_kernel() == GemmKernel::Avx512) return max_pool2x2_avx512(planes, h, w, in, out, idx);
  const int64_t oh = h / 2, ow = w / 2;
  thread_local std::vector<float> v;
  thread_local std::vector<int32_t> keys;
  v.resize(static_cast<size_t>(2 * oh * ow));
  keys.resize(static_cast<size_t>(4 * oh * ow));
  for (int64_t p = 0; p < planes; ++p)
    max_pool2x2_plane(in + p * h * w, w, oh, ow, out + p * oh * ow, idx ? idx + p * oh * ow : nullptr, v.data(),
                      keys.data());
}

void max_pool2d_forward(const Pool2dGeom& g, const float* in, float* out, int32_t* idx) {
  if (g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0 && g.dh == 1 && g.dw == 1 &&
      2 * g.oh <= g.h && 2 * g.ow <= g.w) {  // then oh = h/2 and ow = w/2
    parallel_for(0, g.planes, plane_grain(g.oh * g.ow * 4), [&](int64_t p0, int64_t p1) {
      max_pool2x2_serial(p1 - p0, g.h, g.w, in + p0 * g.h * g.w, out + p0 * g.oh * g.ow,
                         idx ? idx + p0 * g.oh * g.ow : nullptr);
    });
    return;
  }
  const Windows wy = windows(g.h, g.oh, g.kh, g.sh, g.ph, g.dh), wx = windows(g.w, g.ow, g.kw, g.sw, g.pw, g.dw);
  const int64_t h = g.h, w = g.w, oh = g.oh, ow = g.ow, dh = g.dh, dw = g.dw;
  parallel_for(0, g.planes, plane_grain(oh * ow * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* src = in + p * h * w;
      float* o = out + p * oh * ow;
      int32_t* id = idx ? idx + p * oh * ow : nullptr;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = wy.start[oy], y1 = wy.end[oy];
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = wx.start[ox], x1 = wx.end[ox];
          // The first maximum in scan order; a NaN takes over (each later NaN too), as PyTorch.
          // The common NaN-free case runs branch-free; a window holding a NaN is rescanned.
          int64_t best = y0 * w + x0;
          float m = -std::numeric_limits<float>::infinity();
          bool nan = false;
          for (int64_t y = y0; y < y1; y += dh)
            for (int64_t x = x0; x < x1; x += dw) {
              const float v = src[y * w + x];
              const bool take = v > m;
              nan |= v != v;
              m = take ? v : m;
              best = take ? y * w + x : best;
            }
          if (nan)
            for (int64_t y = y0; y < y1; y += dh)
              for (int64_t x = x0; x < x1; x += dw)
                if (std::isnan(src[y * w + x])) m = src[best = y * w + x];
          o[oy * ow + ox] = m;
          if (id) id[oy * ow + ox] = static_cast<int32_t>(best);
        }
      }
    }
  });
}

void max_pool2d_backward(const Pool2dGeom& g, const float* gout, const int32_t* idx, bool assign, float* gin) {
  const int64_t plane_out = g.oh * g.ow;
  parallel_for(0, g.planes, plane_grain(plane_out), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dst = gin + p * g.h * g.w;
      if (assign) std::fill(dst, dst + g.h * g.w, 0.f);  // plane by plane, so the scatter hits cache
      const float* go = gout + p * plane_out;
      const int32_t* id = idx + p * plane_out;
      for (int64_t k = 0; k < plane_out; ++k) dst[id[k]] += go[k];
    }
  });
}

namespace {

// Average pooling forward (backward = false: out = window sum / divisor) or backward
// (backward = true: every window cell += gout / divisor), over the same windows.
template <bool backward>
void avg_pool2d_run(const Pool2dGeom& g, bool count_include_pad, const float* src_all, float* dst_all) {
  const Windows wy = windows(g.h, g.oh, g.kh, g.sh, g.ph, 1), wx = windows(g.w, g.ow, g.kw, g.sw, g.pw, 1);
  const int64_t h = g.h, w = g.w, oh = g.oh, ow = g.ow;
  parallel_for(0, g.planes, plane_grain(oh * ow * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* src = src_all + p * (backward ? oh * ow : h * w);
      float* dst = dst_all + p * (backward ? h * w : oh * ow);
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = wy.start[oy], y1 = wy.end[oy];
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = wx.start[ox], x1 = wx.end[ox];
          const float divisor = static_cast<float>(count_include_pad ? wy.padded[oy] * wx.padded[ox]
                                                                     : (y1 - y0) * (x1 - x0));
          if (y0 >= y1 || x0 >= x1) {  // a window entirely in the padding
            if (!backward) dst[oy * ow + ox] = 0.f;
            continue;
          }
          if (backward) {
            const float d = src[oy * ow + ox] / divisor;
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t x = x0; x < x1; ++x) dst[y * w + x] += d;
          } else {
            float s = 0.f;
            for (int64_t y = y0; y < y1; ++y)
              for (int64_t x = x0; x < x1; ++x) s += src[y * w + x];
            dst[oy * ow + ox] = s / divisor;
          }
        }
      }
    }
  });
}

}  // namespace

void avg_pool2d_forward(const Pool2dGeom& g, bool count_include_pad, const float* in, float* out) {
  avg_pool2d_run<false>(g, count_include_pad, in, out);
}

void avg_pool2d_backward(const Pool2dGeom& g, bool count_include_pad, const float* gout, float* gin) {
  avg_pool2d_run<true>(g, count_include_pad, gout, gin);
}

void adaptive_avg_pool2d_forward(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const float* in,
                                 float* out) {
  const int64_t cells = std::max(h, oh) * std::max(w, ow);
  parallel_for(0, planes, plane_grain(cells), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* src = in + p * h * w;
      float* o = out + p * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const int64_t y0 = bin_start(i, h, oh), y1 = bin_end(i, h, oh);
        for (int64_t j = 0; j < ow; ++j) {
          const int64_t x0 = bin_start(j, w, ow), x1 = bin_end(j, w, ow);
          float s = 0.f;
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t x = x0; x < x1; ++x) s += src[y * w + x];
          o[i * ow + j] = s / static_cast<float>(y1 - y0) / static_cast<float>(x1 - x0);
        }
      }
    }
  });
}

void adaptive_avg_pool2d_backward(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const float* gout,
                                  float* gin) {
  const int64_t cells = std::max(h, oh) * std::max(w, ow);
  parallel_for(0, planes, plane_grain(cells), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dst = gin + p * h * w;
      const float* go = gout + p * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const int64_t y0 = bin_start(i, h, oh), y1 = bin_end(i, h, oh);
        for (int64_t j = 0; j < ow; ++j) {
          const int64_t x0 = bin_start(j, w, ow), x1 = bin_end(j, w, ow);
          const float d = go[i * ow + j] / static_cast<float>(y1 - y0) / static_cast<float>(x1 - x0);
          for (int64_t y = y0; y < y1; ++y)
            for (int64_t x = x0; x < x1; ++x) dst[y * w + x] += d;
        }
      }
    }
  });
}

}  // namespace wick::kernels
