// wick's own single-precision GEMM for CPUs with AVX-512, which core/blas.cpp runs instead of
// OpenBLAS where the CPU has it (OpenBLAS is kept to its AVX2 kernels on these machines).
#pragma once
#include <cstdint>

namespace wick::kernels {

// True when this CPU runs AVX-512F and AVX-512VL (checked once, at run time).
bool cpu_has_avx512();

// C (m x n) = alpha * op(A) * op(B) + beta * C in the calling thread, with op(A) m x k and op(B)
// k x n stored row-major with row strides lda, ldb, ldc (as core/blas.h's gemm_serial). beta == 0
// assigns C without reading it. Each element of C is summed over k in a fixed order that depends
// on k alone, so a block of C gives the same bits however C is cut. Call only when
// cpu_has_avx512().
void gemm_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The same product with op(B) given row by row, for operands that no single stride describes
// (convolution windows): op(B)(p, j) is b_rows[p][j] (k pointers), or b_rows[j][p] with trans_b
// (n pointers).
void gemm_avx512_rows(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc);

// Runs `iters` rounds of 24 independent 512-bit FMA chains in registers (no memory traffic) and
// returns the floating-point operations done: timed on every core, the machine's FMA peak. Call
// only when cpu_has_avx512().
int64_t avx512_fma_probe(int64_t iters);

}  // namespace wick::kernels
