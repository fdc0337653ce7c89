// 2-D pooling kernels with PyTorch's window rules. Planes (one per image and channel) run in
// parallel; each plane is walked in one fixed order, so results do not depend on the thread count.
#include "core/kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

void max_pool2d_forward(const Pool2dGeom& g, const float* in, float* out, int64_t* idx) {
  const Windows wy = windows(g.h, g.oh, g.kh, g.sh, g.ph, g.dh), wx = windows(g.w, g.ow, g.kw, g.sw, g.pw, g.dw);
  const int64_t h = g.h, w = g.w, oh = g.oh, ow = g.ow, dh = g.dh, dw = g.dw;
  parallel_for(0, g.planes, plane_grain(oh * ow * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* src = in + p * h * w;
      float* o = out + p * oh * ow;
      int64_t* id = idx + p * oh * ow;
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
          id[oy * ow + ox] = best;
        }
      }
    }
  });
}

void max_pool2d_backward(const Pool2dGeom& g, const float* gout, const int64_t* idx, float* gin) {
  const int64_t plane_out = g.oh * g.ow;
  parallel_for(0, g.planes, plane_grain(plane_out), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* dst = gin + p * g.h * g.w;
      const float* go = gout + p * plane_out;
      const int64_t* id = idx + p * plane_out;
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
