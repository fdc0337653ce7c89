// The channel-vector convolution kernels of conv_avx512.h. Compiled with -mavx512f -mavx512vl
// (CMakeLists.txt); conv.cpp calls them only when the AVX-512 kernel is in use.
#include "core/kernels/conv_avx512.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include "core/kernels/avx512_common.h"

namespace wick::kernels {
namespace {

// NP pixels x 16*NV channels of out_t (NP x NV accumulators): each depth step loads NV weight
// vectors and broadcasts NP pixels (each FMA reading its pixel). Plain tiles store the sums,
// pixel j at j * o. Pooling tiles (NP a multiple of 4, the pixels in window order) store window q
// at q * o: the 2x2 max pooling (max_pool2d's rule) of its four pixels' sums + bias, then the ReLU
// when relu. The ReLU after the maximum gives the same bits as before it: it maps every value <= 0
// to +0 and keeps the others, so the first maximum of the cells it keeps is the one it keeps of the
// first maximum.
template <int NV, int NP, bool Pool>
void tile(int64_t o, int64_t k, const float* __restrict wt, const float* const* rows, const int64_t* off,
          float* out_t, const float* bias = nullptr, bool relu = false) {
  __m512 acc[NP][NV];
#pragma GCC unroll 24
  for (int j = 0; j < NP; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[j][v] = _mm512_setzero_ps();
  int64_t at[NP];
  for (int j = 0; j < NP; ++j) at[j] = off[j];
  for (int64_t p = 0; p < k; ++p, wt += o) {
    const float* r = rows[p];
    __m512 w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = _mm512_loadu_ps(wt + 16 * v);
#pragma GCC unroll 24
    for (int j = 0; j < NP; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = avx512::fmadd_broadcast(r + at[j], w[v], acc[j][v]);
  }
  if constexpr (Pool) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512 b = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int q = 0; q < NP / 4; ++q) {
        __m512 cell[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) cell[i] = bias ? _mm512_add_ps(acc[4 * q + i][v], b) : acc[4 * q + i][v];
        const __m512 m = avx512::window_max(cell);
        _mm512_storeu_ps(out_t + q * o + 16 * v, relu ? avx512::relu_ps(m) : m);
      }
    }
  } else {
#pragma GCC unroll 24
    for (int j = 0; j < NP; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out_t + j * o + 16 * v, acc[j][v]);
  }
}

// dwt rows 0 .. nk-1 (nk <= NK), channels 0 .. 16*NV-1 (+ c0 in the pointers), NK x NV = 24
// accumulators: each pixel loads NV gradient vectors and broadcasts NK inputs. Past nk, the tile
// reads row nk-1 again and stores nothing.
template <int NV>
void weight_tile(int64_t o, int64_t npix, const float* const* rows, const int64_t* off,
                 const float* __restrict gout_t, int64_t nk, bool accumulate, float* dwt) {
  constexpr int NK = 24 / NV;
  __m512 acc[NK][NV];
#pragma GCC unroll 12
  for (int q = 0; q < NK; ++q)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[q][v] = _mm512_setzero_ps();
  const float* r[NK];
  for (int q = 0; q < NK; ++q) r[q] = rows[std::min<int64_t>(q, nk - 1)];
  for (int64_t j = 0; j < npix; ++j, gout_t += o) {
    const int64_t at = off[j];
    __m512 gv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) gv[v] = _mm512_loadu_ps(gout_t + 16 * v);
#pragma GCC unroll 12
    for (int q = 0; q < NK; ++q)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[q][v] = avx512::fmadd_broadcast(r[q] + at, gv[v], acc[q][v]);
  }
#pragma GCC unroll 12
  for (int q = 0; q < NK; ++q)
    if (q < nk)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* dst = dwt + q * o + 16 * v;
        _mm512_storeu_ps(dst, accumulate ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[q][v]) : acc[q][v]);
      }
}

// dwt rows of input channels 0 .. NC-1 (9 taps each), 16 channels: 9*NC accumulators; each pixel
// loads one gradient vector and broadcasts the taps from three rows per channel.
template <int NC>
void weight_tile_3x3(int64_t o, int64_t npix, const float* x, int64_t plane, int64_t wp, const int64_t* off,
                     const float* __restrict gout_t, bool accumulate, float* dwt) {
  __m512 acc[NC][9];
#pragma GCC unroll 2
  for (int c = 0; c < NC; ++c)
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) acc[c][t] = _mm512_setzero_ps();
  for (int64_t j = 0; j < npix; ++j, gout_t += o) {
    const __m512 gv = _mm512_loadu_ps(gout_t);
    const float* row[NC][3];  // the window's rows; the taps along a row are displacements from it
#pragma GCC unroll 2
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 3
      for (int i = 0; i < 3; ++i) row[c][i] = x + off[j] + c * plane + i * wp;
#pragma GCC unroll 2
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 3
      for (int i = 0; i < 3; ++i)
#pragma GCC unroll 3
        for (int t = 0; t < 3; ++t)
          acc[c][i * 3 + t] = _mm512_fmadd_ps(_mm512_set1_ps(row[c][i][t]), gv, acc[c][i * 3 + t]);
  }
#pragma GCC unroll 2
  for (int c = 0; c < NC; ++c)
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) {
      float* dst = dwt + (c * 9 + t) * o;
      _mm512_storeu_ps(dst, accumulate ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[c][t]) : acc[c][t]);
    }
}

}  // namespace

void pack_by_channel(int64_t o, int64_t k, const float* w, float* wt) {
  const float* rows[16] = {};
  for (int64_t i = 0; i < o; i += 16) {  // 16 channels: their rows of w become 16-float columns of wt
    for (int64_t q = 0; q < 16 && i + q < o; ++q) rows[q] = w + (i + q) * k;
    avx512::pack_transposed(rows, 0, std::min<int64_t>(16, o - i), k, wt + i, o, 16);
  }
}

void conv_by_channel(int64_t o, int64_t k, const float* wt, const float* const* rows, const int64_t* off, int64_t j0,
                     int64_t j1, float* out_t) {
  const int64_t ct = channel_tile(o), pt = pixel_tile(o);
  for (int64_t c0 = 0; c0 < o; c0 += ct)
    for (int64_t j = j0; j < j1; j += pt) {
      if (ct == 64) tile<4, 6, false>(o, k, wt + c0, rows, off + j, out_t + j * o + c0);
      else if (ct == 32) tile<2, 12, false>(o, k, wt + c0, rows, off + j, out_t + j * o + c0);
      else tile<1, 24, false>(o, k, wt + c0, rows, off + j, out_t + j * o + c0);
    }
}

void conv_by_channel_pooled(int64_t o, int64_t k, const float* wt, const float* const* rows, const int64_t* off,
                            int64_t q0, int64_t q1, const float* bias, bool relu, float* out_t) {
  const int64_t ct = channel_tile(o), windows_per_tile = pooled_pixel_tile(o) / 4;
  for (int64_t c0 = 0; c0 < o; c0 += ct)
    for (int64_t q = q0; q < q1; q += windows_per_tile) {
      const float* b = bias ? bias + c0 : nullptr;
      float* dst = out_t + q * o + c0;
      if (ct == 64) tile<4, 4, true>(o, k, wt + c0, rows, off + 4 * q, dst, b, relu);
      else tile<2, 12, true>(o, k, wt + c0, rows, off + 4 * q, dst, b, relu);
    }
}

void conv_by_channel_weight_grad(int64_t o, int64_t k, int64_t npix, const float* const* rows, const int64_t* off,
                                 const float* gout_t, bool accumulate, float* dwt) {
  const int64_t ct = channel_tile(o), kt = 24 / (ct / 16);
  for (int64_t c0 = 0; c0 < o; c0 += ct)
    for (int64_t p = 0; p < k; p += kt) {
      const int64_t nk = std::min(kt, k - p);
      if (ct == 64) weight_tile<4>(o, npix, rows + p, off, gout_t + c0, nk, accumulate, dwt + p * o + c0);
      else weight_tile<2>(o, npix, rows + p, off, gout_t + c0, nk, accumulate, dwt + p * o + c0);
    }
}

void conv3x3_weight_grad(int64_t o, int64_t c, int64_t npix, const float* x, int64_t plane, int64_t wp,
                         const int64_t* off, const float* gout_t, bool accumulate, float* dwt) {
  for (int64_t c0 = 0; c0 < o; c0 += 16)
    for (int64_t ci = 0; ci < c; ci += 2) {
      const float* xc = x + ci * plane;
      float* d = dwt + ci * 9 * o + c0;
      if (ci + 1 < c) weight_tile_3x3<2>(o, npix, xc, plane, wp, off, gout_t + c0, accumulate, d);
      else weight_tile_3x3<1>(o, npix, xc, plane, wp, off, gout_t + c0, accumulate, d);
    }
}

void to_pixel_major(int64_t o, int64_t npix, const float* in, float* out_t) {
  __m512 r[16];
  for (int64_t j = 0; j < npix; j += 16) {
    const __mmask16 pixels = avx512::first(npix - j);
    for (int64_t c = 0; c < o; c += 16) {
      for (int64_t q = 0; q < 16; ++q) r[q] = _mm512_maskz_loadu_ps(pixels, in + (c + q) * npix + j);
      avx512::transpose16(r);  // r[q]: pixel j + q, channels c .. c+15
      for (int64_t q = 0; q < 16 && j + q < npix; ++q) _mm512_storeu_ps(out_t + (j + q) * o + c, r[q]);
    }
  }
}

void store_by_channel(int64_t o, int64_t npix, int64_t p0, int64_t p1, const float* out_t, const float* bias,
                      const float* add, bool relu, float* out) {
  __m512 r[16];
  for (int64_t j = p0; j < p1; j += 16) {
    const __mmask16 pixels = avx512::first(p1 - j);
    for (int64_t c = 0; c < o; c += 16) {
      for (int64_t q = 0; q < 16; ++q)
        r[q] = j + q < p1 ? _mm512_loadu_ps(out_t + (j + q) * o + c) : _mm512_setzero_ps();
      avx512::transpose16(r);  // r[q]: channel c + q at pixels j .. j+15
      for (int64_t q = 0; q < 16; ++q) {
        float* dst = out + (c + q) * npix + j;
        __m512 s = r[q];
        if (add || bias) {
          __m512 init = add ? _mm512_maskz_loadu_ps(pixels, add + (c + q) * npix + j) : _mm512_setzero_ps();
          if (bias) init = add ? _mm512_add_ps(init, _mm512_set1_ps(bias[c + q])) : _mm512_set1_ps(bias[c + q]);
          s = _mm512_add_ps(s, init);
        }
        if (relu) s = avx512::relu_ps(s);
        _mm512_mask_storeu_ps(dst, pixels, s);
      }
    }
  }
}

}  // namespace wick::kernels

#else  // not an x86-64 compiler that takes -mavx512f: conv.cpp never calls these

namespace wick::kernels {
void pack_by_channel(int64_t, int64_t, const float*, float*) {}
void conv_by_channel(int64_t, int64_t, const float*, const float* const*, const int64_t*, int64_t, int64_t, float*) {}
void conv_by_channel_weight_grad(int64_t, int64_t, int64_t, const float* const*, const int64_t*, const float*, bool,
                                 float*) {}
void conv3x3_weight_grad(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const int64_t*, const float*, bool,
                         float*) {}
void to_pixel_major(int64_t, int64_t, const float*, float*) {}
void store_by_channel(int64_t, int64_t, int64_t, int64_t, const float*, const float*, const float*, bool, float*) {}
void conv_by_channel_pooled(int64_t, int64_t, const float*, const float* const*, const int64_t*, int64_t, int64_t,
                            const float*, bool, float*) {}
}  // namespace wick::kernels

#endif
