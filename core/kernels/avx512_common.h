// What the files compiled for AVX-512 (gemm_avx512.cpp, conv_avx512.cpp, pool_avx512.cpp) share:
// the intrinsics, a mask of the first lanes, the ReLU, a 16 x 16 transpose in registers and the packing built
// on it, and max pooling's rule for one window. Include only inside
// `#if defined(__AVX512F__) && defined(__AVX512VL__)`.
#pragma once
#include <algorithm>
#include <cstdint>

// GCC 12's own shuffles and unpacks start from _mm512_undefined_*, which it then reports as used
// uninitialized once inlined (GCC bug 105593, fixed in later releases): silenced for its header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace wick::kernels::avx512 {

// The first `count` lanes (clamped to 0 .. 16).
inline __mmask16 first(int64_t count) {
  return static_cast<__mmask16>((1u << std::clamp<int64_t>(count, 0, 16)) - 1);
}

// The ReLU as wick::relu: +0 for every value <= 0 (-0 too), the others kept, NaN included.
inline __m512 relu_ps(__m512 v) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), v);
}

// acc + broadcast(*x) * w in one instruction, the broadcast folded into the FMA's memory operand
// ({1to16}): a register tile whose broadcasts each feed only two or three FMAs runs ~13% faster so
// on Zen 4 than with a separate vbroadcastss per scalar (which GCC emits for any value used twice).
// Same rounding as _mm512_fmadd_ps.
inline __m512 fmadd_broadcast(const float* x, __m512 w, __m512 acc) {
  asm("vfmadd231ps %1%{1to16%}, %2, %0" : "+v"(acc) : "m"(*x), "v"(w));
  return acc;
}

// Transposes the 16 x 16 block r[0..16) in place (r[i][j] <-> r[j][i]): pairs of rows are
// interleaved by floats, then by float pairs, then 128-bit lanes are gathered across four rows.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // per lane: r0[0] r1[0] r0[1] r1[1]
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // per lane: r0[2] r1[2] r0[3] r1[3]
  }
  for (int g = 0; g < 4; ++g) {  // u[4g + e], lane L: element 4L + e of rows 4g .. 4g + 3
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int e = 0; e < 4; ++e) {  // row 4L + e takes lane L of u[e], u[4 + e], u[8 + e], u[12 + e]
    const __m512 v = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88), w = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
    const __m512 x = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88), y = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
    r[e] = _mm512_shuffle_f32x4(v, x, 0x88);
    r[4 + e] = _mm512_shuffle_f32x4(w, y, 0x88);
    r[8 + e] = _mm512_shuffle_f32x4(v, x, 0xDD);
    r[12 + e] = _mm512_shuffle_f32x4(w, y, 0xDD);
  }
}

// Lane by lane, the maximum max_pool2d takes from a 2x2 window's four cells in scan order: a
// later cell replaces it only when strictly larger (so -0 and +0 tie), then every NaN in turn
// (the last NaN stays; skipped when no lane has one). which, when given, gets the winning cell's
// position 0-3.
inline __m512 window_max(const __m512 cell[4], __m512i* which = nullptr) {
  __m512 m = cell[0];
  __m512i at = _mm512_setzero_si512();
  for (int q = 1; q < 4; ++q) {
    const __mmask16 larger = _mm512_cmp_ps_mask(cell[q], m, _CMP_GT_OQ);
    m = _mm512_mask_mov_ps(m, larger, cell[q]);
    if (which) at = _mm512_mask_mov_epi32(at, larger, _mm512_set1_epi32(q));
  }
  if (_mm512_cmp_ps_mask(cell[0], cell[1], _CMP_UNORD_Q) | _mm512_cmp_ps_mask(cell[2], cell[3], _CMP_UNORD_Q))
    for (int q = 0; q < 4; ++q) {
      const __mmask16 nan = _mm512_cmp_ps_mask(cell[q], cell[q], _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, nan, cell[q]);
      if (which) at = _mm512_mask_mov_epi32(at, nan, _mm512_set1_epi32(q));
    }
  if (which) *which = at;
  return m;
}

// dst row q (stride dst_ld, q < kc) gets element p0 + q of src rows 0 .. rows-1 (rows <= 16) in
// its first 16 floats (0 past rows); only `width` (8 or 16) floats of each dst row are written.
// 16 x 16 blocks go through registers.
inline void pack_transposed(const float* const* src, int64_t p0, int64_t rows, int64_t kc, float* dst, int64_t dst_ld,
                     int width) {
  __m512 r[16];
  for (int64_t p = 0; p < kc; p += 16) {
    const __mmask16 cols = first(kc - p);
    for (int64_t i = 0; i < 16; ++i)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(cols, src[i] + p0 + p) : _mm512_setzero_ps();
    transpose16(r);
    for (int64_t q = 0; q < std::min<int64_t>(16, kc - p); ++q) {
      if (width == 16) _mm512_storeu_ps(dst + (p + q) * dst_ld, r[q]);
      else _mm256_storeu_ps(dst + (p + q) * dst_ld, _mm512_castps512_ps256(r[q]));
    }
  }
}

}  // namespace wick::kernels::avx512
