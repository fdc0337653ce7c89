// Direct stride-1 convolution with AVX-512 (conv_avx512.h). This file is compiled with -mavx512f
// -mavx512vl (CMakeLists.txt); conv.cpp calls it only when gemm_kernel() is Avx512.
//
// Output pixels are taken 16 at a time, one zmm per "vector": 16 pixels of one row, or, for rows
// of at most 8 pixels (a 7 x 7 stage), lanes 0-7 from row y and lanes 8-15 from row y + 1. A
// register tile is kR output channels x kV vectors (24 accumulators). For each tap k = (ci, i, j)
// it loads the kV input vectors the tap reads, masked (a lane whose input is padding, or which is
// no output pixel, loads 0), and broadcasts kR weights:
//   acc[r][v] += w[oc0 + r, k] * in_v(k)
// A tap row that lies in the padding for every vector of the tile is skipped. The taps are summed
// in blocks of kBlockTaps, each block's sum added to the total in order, as gemm_avx512 sums its
// depth blocks: the padded-width form (conv.cpp) gives the same bits. The epilogue adds the
// added input and the bias, applies ReLU and stores the active lanes: no pass over the output.
#include "core/kernels/conv_avx512.h"

#include <algorithm>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>

namespace wick::kernels {
namespace {

constexpr int kR = 8;                // output channels of a register tile
constexpr int kV = 3;                // vectors of a register tile
constexpr int64_t kBlockTaps = 256;  // gemm_avx512's depth block (kKC)
constexpr int kMaxKernel = static_cast<int>(kDirectAvx512MaxKernel);

// Lanes [lo, hi) of 16, clamped to the vector.
__mmask16 lanes(int64_t lo, int64_t hi) {
  lo = std::max<int64_t>(lo, 0), hi = std::min<int64_t>(hi, 16);
  return hi <= lo ? 0 : static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// One vector of output pixels and the lanes each tap row and column can read.
struct Vec {
  int64_t out;                 // lane 0's offset in an output plane (paired: lane 8's is out + ow)
  int64_t in;                  // lane 0's input offset in a channel plane at tap (0, 0); may be < 0
  __mmask16 active;            // lanes that are output pixels
  __mmask16 row[kMaxKernel];   // lanes whose input row at tap row i lies in the image
  __mmask16 col[kMaxKernel];   // active lanes whose input column at tap column j lies in the image
};

// Pixels x0.. x0+15 of row y.
Vec row_vec(const Conv2dGeom& g, int64_t y, int64_t x0) {
  Vec v;
  v.out = y * g.ow + x0;
  v.in = (y - g.ph) * g.w + x0 - g.pw;
  v.active = lanes(0, g.ow - x0);
  for (int64_t i = 0; i < g.kh; ++i) v.row[i] = y - g.ph + i >= 0 && y - g.ph + i < g.h ? 0xFFFF : 0;
  for (int64_t j = 0; j < g.kw; ++j) v.col[j] = lanes(g.pw - j - x0, g.w + g.pw - j - x0) & v.active;
  return v;
}

// Row y in lanes 0-7 and row y + 1 (when below y1) in lanes 8-15; rows of at most 8 pixels.
Vec pair_vec(const Conv2dGeom& g, int64_t y, int64_t y1) {
  Vec v;
  v.out = y * g.ow;
  v.in = (y - g.ph) * g.w - g.pw;
  const __mmask16 lo = lanes(0, g.ow), hi = y + 1 < y1 ? static_cast<__mmask16>(lo << 8) : 0;
  v.active = lo | hi;
  auto inside = [&](int64_t iy) { return iy >= 0 && iy < g.h; };
  for (int64_t i = 0; i < g.kh; ++i)
    v.row[i] = (inside(y - g.ph + i) ? lo : 0) | (inside(y + 1 - g.ph + i) ? hi : 0);
  for (int64_t j = 0; j < g.kw; ++j) {
    const __mmask16 m = lanes(g.pw - j, g.w + g.pw - j) & 0xFF;  // row y's lanes only
    v.col[j] = (m | static_cast<__mmask16>(m << 8)) & v.active;
  }
  return v;
}

// The lanes m of the 16 at p; paired, lanes 0-7 at p and lanes 8-15 at p + stride (the next
// row), by a second load that merges into the first. Lanes outside m are not read (or written).
template <bool Paired>
__m512 load(const float* p, int64_t stride, __mmask16 m) {
  const __m512 v = _mm512_maskz_loadu_ps(Paired ? m & 0xFF : m, p);
  return Paired ? _mm512_mask_loadu_ps(v, m & 0xFF00, p + stride - 8) : v;
}

template <bool Paired>
void store(float* p, int64_t stride, __mmask16 m, __m512 v) {
  _mm512_mask_storeu_ps(p, Paired ? m & 0xFF : m, v);
  if (Paired) _mm512_mask_storeu_ps(p + stride - 8, m & 0xFF00, v);
}

struct Args {
  const Conv2dGeom& g;
  const float* x;    // the image
  const float* w;    // (o, K)
  const float* b;    // (o) or null
  bool relu;
  float* out;        // (o, oh, ow)
  const float* add;  // (o, oh, ow) or null
};

// Output channels oc0.. oc0+R-1 of the V vectors vec: the register tile of the file's comment.
template <int R, int V, bool Paired>
void tile(const Args& a, int64_t oc0, const Vec* vec) {
  const Conv2dGeom& g = a.g;
  const int64_t K = g.c * g.kh * g.kw, plane = g.h * g.w, P = g.oh * g.ow;
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  alignas(64) float total[R][V][16];  // the sum of the finished tap blocks
  bool folded = false;
  auto fold = [&] {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) {
        const __m512 t = folded ? _mm512_add_ps(_mm512_load_ps(total[r][v]), acc[r][v]) : acc[r][v];
        _mm512_store_ps(total[r][v], t);
        acc[r][v] = _mm512_setzero_ps();
      }
    folded = true;
  };
  const float* w = a.w + oc0 * K;
  int64_t k = 0, next_block = kBlockTaps;
  for (int64_t ci = 0; ci < g.c; ++ci) {
    for (int64_t i = 0; i < g.kh; ++i) {
      __mmask16 rows[V];
      bool any = false;
      for (int v = 0; v < V; ++v) any |= (rows[v] = vec[v].row[i]) != 0;
      if (!any) {  // the whole tap row reads padding: its taps add nothing
        if (next_block < k + g.kw) fold(), next_block += kBlockTaps;
        k += g.kw;
        continue;
      }
      const float* xi = a.x + ci * plane + i * g.w;
      for (int64_t j = 0; j < g.kw; ++j, ++k) {
        if (k == next_block) fold(), next_block += kBlockTaps;
        __m512 in[V];
        for (int v = 0; v < V; ++v) in[v] = load<Paired>(xi + vec[v].in + j, g.w, rows[v] & vec[v].col[j]);
        for (int r = 0; r < R; ++r) {
          const __m512 wr = _mm512_set1_ps(w[r * K + k]);
          for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(wr, in[v], acc[r][v]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t oc = oc0 + r;
    for (int v = 0; v < V; ++v) {
      __m512 s = folded ? _mm512_add_ps(_mm512_load_ps(total[r][v]), acc[r][v]) : acc[r][v];
      if (a.add) s = _mm512_add_ps(s, load<Paired>(a.add + oc * P + vec[v].out, g.ow, vec[v].active));
      if (a.b) s = _mm512_add_ps(s, _mm512_set1_ps(a.b[oc]));
      if (a.relu) s = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_NLE_UQ), s);  // NaN kept
      store<Paired>(a.out + oc * P + vec[v].out, g.ow, vec[v].active, s);
    }
  }
}

template <int R, bool Paired>
void tile_any(const Args& a, int64_t oc0, const Vec* vec, int64_t nv) {
  if (nv == 3) tile<R, 3, Paired>(a, oc0, vec);
  else if (nv == 2) tile<R, 2, Paired>(a, oc0, vec);
  else tile<R, 1, Paired>(a, oc0, vec);
}

// Every tile of output channels [o0, o1) and rows [y0, y1): channel blocks outermost (their
// weights stay in L1 while the tiles of the rows pass under them).
template <bool Paired>
void run(const Args& a, int64_t o0, int64_t o1, int64_t y0, int64_t y1) {
  const Conv2dGeom& g = a.g;
  const int64_t per_row = (g.ow + 15) / 16;
  const int64_t count = Paired ? (y1 - y0 + 1) / 2 : (y1 - y0) * per_row;
  for (int64_t oc0 = o0; oc0 < o1;) {
    const int64_t left = o1 - oc0, R = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    for (int64_t t0 = 0; t0 < count; t0 += kV) {
      const int64_t nv = std::min<int64_t>(kV, count - t0);
      Vec vec[kV];
      for (int64_t t = 0; t < nv; ++t)
        vec[t] = Paired ? pair_vec(g, y0 + 2 * (t0 + t), y1)
                        : row_vec(g, y0 + (t0 + t) / per_row, (t0 + t) % per_row * 16);
      if (R == 8) tile_any<8, Paired>(a, oc0, vec, nv);
      else if (R == 4) tile_any<4, Paired>(a, oc0, vec, nv);
      else if (R == 2) tile_any<2, Paired>(a, oc0, vec, nv);
      else tile_any<1, Paired>(a, oc0, vec, nv);
    }
    oc0 += R;
  }
}

}  // namespace

bool conv_avx512_fits(const Conv2dGeom& g) {
  return g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.kh <= kDirectAvx512MaxKernel &&
         g.kw <= kDirectAvx512MaxKernel && !g.col_is_input();
}

void conv2d_avx512(const Conv2dGeom& g, const float* x_img, const float* w, const float* b, bool relu,
                   float* out_img, const float* add_img, int64_t o0, int64_t o1, int64_t y0, int64_t y1) {
  const Args a{g, x_img, w, b, relu, out_img, add_img};
  if (g.ow <= 8) run<true>(a, o0, o1, y0, y1);
  else run<false>(a, o0, o1, y0, y1);
}

}  // namespace wick::kernels

#else  // not an x86-64 compiler that takes -mavx512f: conv.cpp never calls these

namespace wick::kernels {
bool conv_avx512_fits(const Conv2dGeom&) { return false; }
void conv2d_avx512(const Conv2dGeom&, const float*, const float*, const float*, bool, float*, const float*, int64_t,
                   int64_t, int64_t, int64_t) {}
}  // namespace wick::kernels

#endif
