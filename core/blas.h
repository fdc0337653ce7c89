// Matrix multiply, the one place wick picks the GEMM kernel: wick's own AVX-512 kernel
// (core/kernels/gemm.h) where the CPU has AVX-512, OpenBLAS otherwise. Row-major throughout.
#pragma once
#include <cstdint>

namespace wick {

// C (m x n) = alpha * op(A) * op(B) + beta * C, with op(A) m x k and op(B) k x n. lda/ldb/ldc are
// the row strides of A, B, C as stored. The product is cut into fixed blocks of C (by shape only)
// that run in parallel, each through single-threaded OpenBLAS: bit-identical at any thread count.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The same product in the calling thread, for callers that already run in parallel.
void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc);

// gemm_serial with op(B) given row by row, for operands no single stride describes (convolution
// windows): op(B)(p, j) is b_rows[p][j] (k pointers), or b_rows[j][p] with trans_b (n pointers).
void gemm_rows_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc);

// The kernel behind all three calls (a product with a single row or column of C, a matrix-vector
// product, always goes to OpenBLAS's sgemv); with Avx512 the convolution's channel-vector form and
// the 2x2 max pooling's AVX-512 loop run too. The default is Avx512 where the CPU has it, unless the environment
// sets WICK_GEMM=openblas (read once; for comparisons). set_gemm_kernel(Avx512) on a CPU without
// AVX-512 throws.
enum class GemmKernel { Avx512, OpenBlas };
GemmKernel gemm_kernel();
void set_gemm_kernel(GemmKernel kernel);
const char* gemm_kernel_name(GemmKernel kernel);  // "avx512", "openblas"

}  // namespace wick
