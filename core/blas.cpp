// gemm / gemm_serial: wick's AVX-512 kernel or OpenBLAS, both single-threaded per call. OpenBLAS's
// own threading is not bitwise stable across thread counts for large shapes, so wick splits C into
// fixed blocks itself.
#include "core/blas.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"

// OpenBLAS's pthread build starts (cores - 1) threads when it loads, and each spins on its queue
// for about 0.1 s (2^28 time-stamp ticks) before it sleeps. wick never gives them work, but the
// spinning thread holds a core meanwhile, so a oneTBB worker woken then runs on the caller's core:
// small-cnn's batch-1 forward took 0.107 ms for its first ~900 calls in a process, 0.069 after.
// This OpenBLAS function (also what it runs in a forked child; a later threaded call starts them
// again) joins them. Declared weak, and called only in that build: the serial and OpenMP ones
// have no such pool.
extern "C" int blas_thread_shutdown_() __attribute__((weak));

namespace wick {
namespace {

// Block sizes of C. Fixed numbers, so the split (and so every bit of C) depends on shape alone.
constexpr int64_t kBlockRows = 128;
constexpr int64_t kBlockCols = 512;
// A product of at least this many multiply-adds that fits one block is cut in two instead (a
// batch-64 Linear, one image's conv), so a second thread has work.
constexpr int64_t kSplitWork = int64_t(1) << 18;

int64_t half_rounded(int64_t len) { return ((len + 1) / 2 + 15) / 16 * 16; }  // ceil(len / 2), to 16s

void init_blas_once() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_ && openblas_get_parallel() == OPENBLAS_THREAD) blas_thread_shutdown_();
    return true;
  }();
  (void)done;
}

// At load, not at the first product: the threads spin from the moment the process starts.
[[maybe_unused]] const bool blas_ready_at_load = (init_blas_once(), true);

std::atomic<GemmKernel>& current_kernel() {
  static std::atomic<GemmKernel> kernel = [] {
    const char* env = std::getenv("WICK_GEMM");
    const bool openblas = env && std::strcmp(env, "openblas") == 0;
    return kernels::cpu_has_avx512() && !openblas ? GemmKernel::Avx512 : GemmKernel::OpenBlas;
  }();
  return kernel;
}

}  // namespace

GemmKernel gemm_kernel() { return current_kernel().load(std::memory_order_relaxed); }

void set_gemm_kernel(GemmKernel kernel) {
  WICK_CHECK(kernel != GemmKernel::Avx512 || kernels::cpu_has_avx512(),
             "set_gemm_kernel: this CPU has no AVX-512");
  current_kernel().store(kernel, std::memory_order_relaxed);
}

const char* gemm_kernel_name(GemmKernel kernel) { return kernel == GemmKernel::Avx512 ? "avx512" : "openblas"; }

void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  init_blas_once();
  if (k == 0) {  // BLAS leaves C alone when k == 0 only if beta == 1; make beta explicit
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  // A single row or column of C is a matrix-vector product: sgemv reads op(B) (or op(A)) once,
  // where sgemm would first pack all of it (most of a batch-1 Linear's time).
  if (m == 1) {  // C (1 x n) = a (k) · op(B): Cᵀ = op(B)ᵀ · a
    cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, static_cast<blasint>(trans_b ? n : k),
                static_cast<blasint>(trans_b ? k : n), alpha, b, static_cast<blasint>(ldb), a,
                static_cast<blasint>(trans_a ? lda : 1), beta, c, 1);
    return;
  }
  if (n == 1) {  // C (m x 1) = op(A) · b (k)
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, static_cast<blasint>(trans_a ? k : m),
                static_cast<blasint>(trans_a ? m : k), alpha, a, static_cast<blasint>(lda), b,
                static_cast<blasint>(trans_b ? 1 : ldb), beta, c, static_cast<blasint>(ldc));
    return;
  }
  if (gemm_kernel() == GemmKernel::Avx512) {
    kernels::gemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

void gemm_rows_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* const* b_rows, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (gemm_kernel() == GemmKernel::Avx512 && k > 0) {
    kernels::gemm_avx512_rows(trans_a, trans_b, m, n, k, alpha, a, lda, b_rows, beta, c, ldc);
    return;
  }
  // OpenBLAS takes one stride: the rows are copied into one matrix first.
  const int64_t rows = trans_b ? n : k, len = trans_b ? k : n;
  thread_local std::vector<float> dense;
  dense.resize(static_cast<size_t>(rows * len));
  for (int64_t r = 0; r < rows; ++r) std::copy(b_rows[r], b_rows[r] + len, dense.data() + r * len);
  gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, dense.data(), len, beta, c, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  int64_t block_rows = kBlockRows, block_cols = kBlockCols;
  if (m <= block_rows && n <= block_cols && m * n * k >= kSplitWork) {
    if (n >= m) block_cols = half_rounded(n);
    else block_rows = half_rounded(m);
  }
  const int64_t row_blocks = (m + block_rows - 1) / block_rows;
  const int64_t col_blocks = (n + block_cols - 1) / block_cols;
  if (row_blocks * col_blocks <= 1) {
    gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  parallel_for(0, row_blocks * col_blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = (blk / col_blocks) * block_rows, j0 = (blk % col_blocks) * block_cols;
      const int64_t mb = std::min(block_rows, m - i0), nb = std::min(block_cols, n - j0);
      // Row block i0 of op(A) and column block j0 of op(B), addressed in their stored layout.
      const float* ab = trans_a ? a + i0 : a + i0 * lda;
      const float* bb = trans_b ? b + j0 * ldb : b + j0;
      gemm_serial(trans_a, trans_b, mb, nb, k, alpha, ab, lda, bb, ldb, beta, c + i0 * ldc + j0, ldc);
    }
  });
}

}  // namespace wick
