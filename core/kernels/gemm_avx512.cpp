// AVX-512 SGEMM, blocked as Goto and van de Geijn describe (2008): op(A) is packed in panels of
// kMR rows, kKC deep at a time, op(B) taken in strips of kNR columns, and an kMR x kNR register
// tile (24 zmm accumulators) multiplies one panel by one strip with kKC rank-1 updates. This file is
// compiled with -mavx512f -mavx512vl (CMakeLists.txt); blas.cpp calls it only after cpu_has_avx512().
#include "core/kernels/gemm.h"

#include <algorithm>
#include <vector>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include "core/kernels/avx512_common.h"

namespace wick::kernels {
namespace {

using avx512::first;
using avx512::pack_transposed;

constexpr int kMR = 8;             // rows of the register tile
constexpr int kNV = 3;             // zmm vectors across one tile row
constexpr int kNR = kNV * 16;      // columns of the register tile
constexpr int64_t kKC = 256;       // depth of one packed block (a kKC x kNR strip is 48 KiB)
constexpr int64_t kMC = 192;       // rows of op(A) packed at once (192 x kKC: 192 KiB, in L2)
constexpr int64_t kNC = 3072;      // columns of op(B) per block (packed when transposed: 3 MiB, in L3)

// Packing buffers of the calling thread, grown as needed and reused.
float* buffer(int slot, size_t n) {
  thread_local std::vector<float> bufs[2];
  if (bufs[slot].size() < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

// The calling thread's row pointers for gemm_avx512's strided op(B).
const float** row_buffer(size_t n) {
  thread_local std::vector<const float*> rows;
  if (rows.size() < n) rows.resize(n);
  return rows.data();
}

// ap (kc, kMR) = rows i0.. i0+mr of op(A), columns p0.. p0+kc; rows past mr are 0.
void pack_a(bool trans, const float* a, int64_t lda, int64_t i0, int64_t mr, int64_t p0, int64_t kc, float* ap) {
  if (trans) {  // op(A)(i, p) = a[p * lda + i]: each p reads mr contiguous floats
    const __mmask8 rows = static_cast<__mmask8>((1u << mr) - 1);
    for (int64_t p = 0; p < kc; ++p)
      _mm256_storeu_ps(ap + p * kMR, _mm256_maskz_loadu_ps(rows, a + (p0 + p) * lda + i0));
  } else {  // op(A)(i, p) = a[i * lda + p]: rows of A become columns of the panel
    const float* rows[kMR];
    for (int64_t r = 0; r < mr; ++r) rows[r] = a + (i0 + r) * lda;
    pack_transposed(rows, p0, mr, kc, ap, kMR, kMR);
  }
}

// bp (kc, kNR) = rows p0.. p0+kc of a transposed op(B), columns j0.. j0+nr, where op(B)(p, j) is
// rows[j][p]; columns past nr are 0. Rows of B become columns of the strip, 16 at a time.
void pack_b(const float* const* rows, int64_t p0, int64_t kc, int64_t j0, int64_t nr, float* bp) {
  for (int v = 0; v < kNV; ++v)
    pack_transposed(rows + j0 + 16 * v, p0, std::max<int64_t>(0, nr - 16 * v), kc, bp + 16 * v, kNR, 16);
}

// Where a tile reads op(B): a packed strip (kc, kNR), or the rows themselves from column j0 on
// (no copy; the last vector's load is masked to the columns that exist).
struct PackedStrip {
  const float* bp;
  __m512 load(int64_t p, int v, __mmask16) const { return _mm512_loadu_ps(bp + p * kNR + 16 * v); }
};
struct DirectRows {
  const float* const* rows;
  int64_t j0;
  __m512 load(int64_t p, int v, __mmask16 mask) const { return _mm512_maskz_loadu_ps(mask, rows[p] + j0 + 16 * v); }
};

// c (mr, NV*16 columns, the last vector masked by last) = alpha * ap (kc, kMR)ᵀ-panel x op(B)
// (kc, NV*16) + beta * c. Only the first mr rows of c are touched; beta == 0 does not read c.
template <int NV, typename Src>
void tile(int64_t kc, const float* __restrict ap, const Src& src, float* c, int64_t ldc, int64_t mr,
          __mmask16 last, float alpha, float beta) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p, ap += kMR) {
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = src.load(p, v, v == NV - 1 ? last : __mmask16(0xFFFF));
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(ap[r]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < mr; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = v == NV - 1 ? last : __mmask16(0xFFFF);
      float* cp = c + r * ldc + 16 * v;
      __m512 out = _mm512_mul_ps(va, acc[r][v]);
      if (beta != 0.f) out = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, cp), out);
      _mm512_mask_storeu_ps(cp, mask, out);
    }
}

// One panel x strip product for nr <= kNR columns: picks the tile with the fewest vectors.
template <typename Src>
void tile_any(int64_t kc, const float* ap, const Src& src, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha,
              float beta) {
  const int nv = static_cast<int>((nr + 15) / 16);
  const __mmask16 last = first(nr - 16 * (nv - 1));
  if (nv == 3) tile<3>(kc, ap, src, c, ldc, mr, last, alpha, beta);
  else if (nv == 2) tile<2>(kc, ap, src, c, ldc, mr, last, alpha, beta);
  else tile<1>(kc, ap, src, c, ldc, mr, last, alpha, beta);
}

}  // namespace

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  return has;
}

// Loops, outermost first: column blocks of kNC, depth blocks of kKC, row blocks of kMC (each packs
// its op(A) block once), then every strip x panel tile. A transposed op(B) is packed once per
// depth block; an untransposed one is read in place, row by row (packing it would copy all of op(B)
// once per product, as costly as the multiply-adds when op(A) has few rows, as in a convolution's
// 16-64 output channels). The depth blocks run in order from p = 0, so each element's sum over k
// has one order for a given k.
void gemm_avx512_rows(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc) {
  for (int64_t jc = 0; jc < n; jc += kNC) {
    const int64_t nc = std::min(kNC, n - jc), strips = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      const float block_beta = pc == 0 ? beta : 1.f;
      float* bpack = trans_b ? buffer(0, static_cast<size_t>(strips * kc * kNR)) : nullptr;
      for (int64_t s = 0; trans_b && s < strips; ++s)
        pack_b(b_rows, pc, kc, jc + s * kNR, std::min<int64_t>(kNR, nc - s * kNR), bpack + s * kc * kNR);
      for (int64_t ic = 0; ic < m; ic += kMC) {
        const int64_t mc = std::min(kMC, m - ic), panels = (mc + kMR - 1) / kMR;
        float* apack = buffer(1, static_cast<size_t>(panels * kc * kMR));
        for (int64_t q = 0; q < panels; ++q)
          pack_a(trans_a, a, lda, ic + q * kMR, std::min<int64_t>(kMR, mc - q * kMR), pc, kc, apack + q * kc * kMR);
        for (int64_t s = 0; s < strips; ++s)
          for (int64_t q = 0; q < panels; ++q) {
            const float* ap = apack + q * kc * kMR;
            float* cq = c + (ic + q * kMR) * ldc + jc + s * kNR;
            const int64_t mr = std::min<int64_t>(kMR, mc - q * kMR), nr = std::min<int64_t>(kNR, nc - s * kNR);
            if (trans_b) tile_any(kc, ap, PackedStrip{bpack + s * kc * kNR}, cq, ldc, mr, nr, alpha, block_beta);
            else tile_any(kc, ap, DirectRows{b_rows + pc, jc + s * kNR}, cq, ldc, mr, nr, alpha, block_beta);
          }
      }
    }
  }
}

int64_t avx512_fma_probe(int64_t iters) {
  constexpr int kChains = 24;  // as many as the register tile: more than pipes x latency
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  __m512 sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(sum);  // keeps the loop
  (void)sink;
  return iters * kChains * 16 * 2;
}

void gemm_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t rows = trans_b ? n : k;
  const float** b_rows = row_buffer(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) b_rows[r] = b + r * ldb;
  gemm_avx512_rows(trans_a, trans_b, m, n, k, alpha, a, lda, b_rows, beta, c, ldc);
}

}  // namespace wick::kernels

#else  // not an x86-64 compiler that takes -mavx512f: OpenBLAS runs every product

namespace wick::kernels {
bool cpu_has_avx512() { return false; }
void gemm_avx512(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                 float*, int64_t) {}
void gemm_avx512_rows(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float* const*, float,
                      float*, int64_t) {}
int64_t avx512_fma_probe(int64_t) { return 0; }
}  // namespace wick::kernels

#endif
