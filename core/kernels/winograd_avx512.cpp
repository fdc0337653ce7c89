// The Winograd F(2x2, 3x3) transforms of winograd_avx512.h. Compiled with -mavx512f -mavx512vl
// (CMakeLists.txt); conv.cpp calls them only when the AVX-512 kernels are in use.
#include "core/kernels/winograd_avx512.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include "core/kernels/avx512_common.h"

namespace wick::kernels {

// G g Gᵀ, each side one multiplication by G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]: its rows take the
// first input, half the sum, half the alternating sum, the last.
void winograd_pack(int64_t o, int64_t c, const float* w, float* u) {
  const auto by_g = [](const double in[3], double out[4]) {
    out[0] = in[0], out[1] = (in[0] + in[1] + in[2]) / 2, out[2] = (in[0] - in[1] + in[2]) / 2, out[3] = in[2];
  };
  for (int64_t oc = 0; oc < o; ++oc)
    for (int64_t ci = 0; ci < c; ++ci) {
      const float* g = w + (oc * c + ci) * 9;
      double gg[4][3];  // G g: each column of g through G
      for (int s = 0; s < 3; ++s) {
        const double col[3] = {g[s], g[3 + s], g[6 + s]};
        double out[4];
        by_g(col, out);
        for (int r = 0; r < 4; ++r) gg[r][s] = out[r];
      }
      for (int r = 0; r < 4; ++r) {  // (G g) Gᵀ: each row of G g through G
        double out[4];
        by_g(gg[r], out);
        for (int s = 0; s < 4; ++s) u[((4 * r + s) * c + ci) * o + oc] = static_cast<float>(out[s]);
      }
    }
}

// Each padded row is built in vectors of 16 floats from a masked load of the image row (one float
// earlier, for the zero column; the first vector expands the row into lanes 1-15 instead), or
// zeros. Its time is the image's first reads (from L3 at batch 256: each layer's output is 12 MB).
void winograd_pad(int64_t c, const float* x, int64_t h, int64_t w, int64_t ty0, int64_t ty1, int64_t tw,
                  float* padded) {
  const int64_t wp = 2 * tw + 2, pairs = ty1 - ty0 + 1, cols = std::min(w, wp - 1);
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t r = 0; r < 2 * pairs; ++r) {  // the image's rows in order, each to its parity's rows
      const int64_t y = 2 * ty0 - 1 + r;
      const float* src = y >= 0 && y < h ? x + (ci * h + y) * w : nullptr;
      float* dst = padded + ((2 * ci + r % 2) * pairs + r / 2) * wp;
      for (int64_t b0 = 0; b0 < wp; b0 += 16) {
        __m512 v = _mm512_setzero_ps();
        if (src && b0 == 0) v = _mm512_maskz_expandloadu_ps(avx512::first(cols + 1) & 0xFFFE, src);
        else if (src) v = _mm512_maskz_loadu_ps(avx512::first(cols + 1 - b0), src + b0 - 1);
        _mm512_mask_storeu_ps(dst + b0, avx512::first(wp - b0), v);
      }
    }
}

// Sixteen tiles a vector: row r of their 4x4 inputs is read from 2t on in its stream (even rows,
// odd rows, one row on for r >= 2), whose even and odd floats (split by permutes) are columns 0
// and 1, and from 2t + 2 on, columns 2 and 3.
// Bᵀ d combines rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3), then · B the columns the same way.
void winograd_input(int64_t c, const float* x, int64_t plane, int64_t half, int64_t wp, int64_t tiles, float* v,
                    int64_t xstride) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const auto combine = [](__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 out[4]) {
    out[0] = _mm512_sub_ps(d0, d2), out[1] = _mm512_add_ps(d1, d2);
    out[2] = _mm512_sub_ps(d2, d1), out[3] = _mm512_sub_ps(d1, d3);
  };
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t t = 0; t < tiles; t += 16) {
      __m512 d[4][4];
      for (int r = 0; r < 4; ++r) {
        const float* row = x + ci * plane + (r % 2) * half + (r / 2) * wp + 2 * t;
        const __m512 a = _mm512_loadu_ps(row), b = _mm512_loadu_ps(row + 16);
        const __m512 a2 = _mm512_loadu_ps(row + 2), b2 = _mm512_loadu_ps(row + 18);
        d[r][0] = _mm512_permutex2var_ps(a, even, b), d[r][1] = _mm512_permutex2var_ps(a, odd, b);
        d[r][2] = _mm512_permutex2var_ps(a2, even, b2), d[r][3] = _mm512_permutex2var_ps(a2, odd, b2);
      }
      __m512 bd[4][4];  // Bᵀ d
      for (int s = 0; s < 4; ++s) {
        __m512 out[4];
        combine(d[0][s], d[1][s], d[2][s], d[3][s], out);
        for (int r = 0; r < 4; ++r) bd[r][s] = out[r];
      }
      for (int r = 0; r < 4; ++r) {
        __m512 out[4];
        combine(bd[r][0], bd[r][1], bd[r][2], bd[r][3], out);
        for (int s = 0; s < 4; ++s) _mm512_storeu_ps(v + (4 * r + s) * xstride + t * c + 16 * ci, out[s]);
      }
    }
}

// Aᵀ M A, one vector of 16 channels at a time: Aᵀ M combines rows (m0 + m1 + m2, m1 - m2 - m3),
// then · A the columns the same way.
void winograd_output(int64_t o, int64_t tiles, int64_t tw, const float* m, int64_t mstride, int64_t oh, int64_t ow,
                     bool pool, const float* bias, bool relu, float* out_t) {
  const auto combine = [](__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 out[2]) {
    out[0] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2), out[1] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
  };
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t ty = t / tw, tx = t % tw;
    for (int64_t c0 = 0; c0 < o; c0 += 16) {
      const float* mt = m + t * o + c0;
      __m512 am[2][4];  // Aᵀ M
      for (int s = 0; s < 4; ++s) {
        __m512 out[2];
        combine(_mm512_loadu_ps(mt + s * mstride), _mm512_loadu_ps(mt + (4 + s) * mstride),
                _mm512_loadu_ps(mt + (8 + s) * mstride), _mm512_loadu_ps(mt + (12 + s) * mstride), out);
        am[0][s] = out[0], am[1][s] = out[1];
      }
      __m512 y[4];  // the tile's outputs in scan order
      combine(am[0][0], am[0][1], am[0][2], am[0][3], y);
      combine(am[1][0], am[1][1], am[1][2], am[1][3], y + 2);
      if (pool) {
        if (bias)
          for (__m512& cell : y) cell = _mm512_add_ps(cell, _mm512_loadu_ps(bias + c0));
        const __m512 mx = avx512::window_max(y);
        _mm512_storeu_ps(out_t + t * o + c0, relu ? avx512::relu_ps(mx) : mx);
        continue;
      }
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          if (2 * ty + a < oh && 2 * tx + b < ow)
            _mm512_storeu_ps(out_t + ((2 * ty + a) * ow + 2 * tx + b) * o + c0, y[2 * a + b]);
    }
  }
}

}  // namespace wick::kernels

#else  // not an x86-64 compiler that takes -mavx512f: conv.cpp never calls these

namespace wick::kernels {
void winograd_pack(int64_t, int64_t, const float*, float*) {}
void winograd_pad(int64_t, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*) {}
void winograd_input(int64_t, const float*, int64_t, int64_t, int64_t, int64_t, float*, int64_t) {}
void winograd_output(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, bool, const float*, bool,
                     float*) {}
}  // namespace wick::kernels

#endif
