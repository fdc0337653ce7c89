// The AVX-512 2x2 max pooling of pool_avx512.h. Compiled with -mavx512f -mavx512vl
// (CMakeLists.txt); pool.cpp calls it only when the AVX-512 kernels are in use.
#include "core/kernels/pool_avx512.h"

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include "core/kernels/avx512_common.h"

namespace wick::kernels {

void max_pool2x2_avx512(int64_t planes, int64_t h, int64_t w, const float* in, float* out, int32_t* idx) {
  const int64_t oh = h / 2, ow = w / 2;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
  // A window's cells in scan order, as offsets from its first cell.
  const int32_t cells[16] = {0, 1, static_cast<int32_t>(w), static_cast<int32_t>(w + 1)};
  const __m512i offset = _mm512_loadu_si512(cells);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oy = 0; oy < oh; ++oy) {
      const float* top = in + (p * h + 2 * oy) * w;
      for (int64_t ox = 0; ox < ow; ox += 16) {
        const __mmask16 windows = avx512::first(ow - ox), lo = avx512::first(2 * (ow - ox)),
                        hi = avx512::first(2 * (ow - ox) - 16);
        __m512 cand[4];  // the windows' cells: top left, top right, bottom left, bottom right
        for (int r = 0; r < 2; ++r) {
          const float* row = top + r * w + 2 * ox;
          const __m512 a = _mm512_maskz_loadu_ps(lo, row), b = _mm512_maskz_loadu_ps(hi, row + 16);
          cand[2 * r] = _mm512_permutex2var_ps(a, even, b);
          cand[2 * r + 1] = _mm512_permutex2var_ps(a, odd, b);
        }
        __m512i which = _mm512_setzero_si512();
        const __m512 m = avx512::window_max(cand, idx ? &which : nullptr);
        const int64_t o = (p * oh + oy) * ow + ox;
        _mm512_mask_storeu_ps(out + o, windows, m);
        if (idx) {
          const __m512i corner = _mm512_set1_epi32(static_cast<int32_t>(2 * oy * w + 2 * ox));
          const __m512i first_cell = _mm512_add_epi32(corner, lane2);
          const __m512i cell = _mm512_permutexvar_epi32(which, offset);
          _mm512_mask_storeu_epi32(idx + o, windows, _mm512_add_epi32(first_cell, cell));
        }
      }
    }
}

}  // namespace wick::kernels

#else  // not an x86-64 compiler that takes -mavx512f: pool.cpp never calls it

namespace wick::kernels {
void max_pool2x2_avx512(int64_t, int64_t, int64_t, const float*, float*, int32_t*) {}
}  // namespace wick::kernels

#endif
