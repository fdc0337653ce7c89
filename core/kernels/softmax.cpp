// Softmax, log_softmax and fused cross-entropy kernels. Work is cut into tasks of one outer index
// and a block of up to kBlock inner positions; each row (one inner position) is reduced along D
// in index order with double accumulators, so results do not depend on the thread count.
#include "core/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"

namespace wick::kernels {
namespace {

constexpr int64_t kBlock = 256;

// Calls task(o, i0, i1) for every outer index o and inner block [i0, i1), in parallel.
template <typename Task>
void for_each_block(int64_t outer, int64_t D, int64_t inner, Task task) {
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t per_task = std::max<int64_t>(D, 1) * std::min(inner, kBlock);
  const int64_t grain = std::max<int64_t>(1, 16384 / per_task);
  parallel_for(0, outer * blocks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t o = t / blocks, i0 = (t % blocks) * kBlock;
      task(o, i0, std::min(inner, i0 + kBlock));
    }
  });
}

// m[j] = max along D of row j (NaNs skipped: they make the row NaN later anyway).
void row_max(const float* x, int64_t D, int64_t inner, int64_t len, float* m) {
  for (int64_t j = 0; j < len; ++j) m[j] = -std::numeric_limits<float>::infinity();
  for (int64_t d = 0; d < D; ++d) {
    const float* r = x + d * inner;
    for (int64_t j = 0; j < len; ++j) m[j] = r[j] > m[j] ? r[j] : m[j];
  }
}

// s[j] = sum along D of exp(x - m[j]), in double.
void row_sum_exp(const float* x, int64_t D, int64_t inner, int64_t len, const float* m, double* s) {
  for (int64_t j = 0; j < len; ++j) s[j] = 0.0;
  for (int64_t d = 0; d < D; ++d) {
    const float* r = x + d * inner;
    for (int64_t j = 0; j < len; ++j) s[j] += std::exp(r[j] - m[j]);
  }
}

// softmax along contiguous rows (inner == 1): the same sums, in the same order, as the blocked
// path, with loops the compiler can vectorize.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t D) {
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* in = x + r * D;
      float* out = y + r * D;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t d = 0; d < D; ++d) m = in[d] > m ? in[d] : m;
      double s = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        out[d] = std::exp(in[d] - m);
        s += out[d];
      }
      const double inv = 1.0 / s;
      for (int64_t d = 0; d < D; ++d) out[d] = static_cast<float>(out[d] * inv);
    }
  });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t D, int64_t inner, bool log) {
  if (inner == 1 && !log) return softmax_rows(x, y, outer, D);
  for_each_block(outer, D, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t len = i1 - i0, base = o * D * inner + i0;
    float m[kBlock];
    double s[kBlock];
    row_max(x + base, D, inner, len, m);
    if (log) {
      row_sum_exp(x + base, D, inner, len, m, s);
      double lse[kBlock];
      for (int64_t j = 0; j < len; ++j) lse[j] = std::log(s[j]);
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < len; ++j) {
          int64_t k = base + d * inner + j;
          y[k] = static_cast<float>(static_cast<double>(x[k] - m[j]) - lse[j]);
        }
    } else {
      // One exp per element: y holds exp(x − max) until it is scaled by 1 / Σ.
      for (int64_t j = 0; j < len; ++j) s[j] = 0.0;
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < len; ++j) {
          int64_t k = base + d * inner + j;
          y[k] = std::exp(x[k] - m[j]);
          s[j] += y[k];
        }
      for (int64_t j = 0; j < len; ++j) s[j] = 1.0 / s[j];
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = 0; j < len; ++j) {
          int64_t k = base + d * inner + j;
          y[k] = static_cast<float>(y[k] * s[j]);
        }
    }
  });
}

void softmax_backward(const float* y, const float* g, float* dx, int64_t outer, int64_t D, int64_t inner,
                      bool log) {
  for_each_block(outer, D, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t len = i1 - i0, base = o * D * inner + i0;
    double acc[kBlock];
    for (int64_t j = 0; j < len; ++j) acc[j] = 0.0;
    // softmax: acc = sum(g * y); log_softmax: acc = sum(g).
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < len; ++j) {
        int64_t k = base + d * inner + j;
        acc[j] += log ? static_cast<double>(g[k]) : static_cast<double>(g[k]) * y[k];
      }
    for (int64_t d = 0; d < D; ++d)
      for (int64_t j = 0; j < len; ++j) {
        int64_t k = base + d * inner + j;
        double v = log ? g[k] - std::exp(y[k]) * acc[j] : y[k] * (g[k] - acc[j]);
        dx[k] += static_cast<float>(v);
      }
  });
}

void cross_entropy_forward(const float* x, const int64_t* target, float* logp, double* loss, int64_t N,
                           int64_t C, int64_t inner, bool from_logits, double eps, int64_t ignore_index) {
  for_each_block(N, C, inner, [&](int64_t n, int64_t i0, int64_t i1) {
    const int64_t len = i1 - i0, base = n * C * inner + i0;
    const int64_t* t = target + n * inner + i0;
    double* l = loss + n * inner + i0;
    // lp(d, j) is the log-probability of class d in row j.
    double smooth[kBlock];
    for (int64_t j = 0; j < len; ++j) smooth[j] = 0.0;
    if (from_logits) {
      float m[kBlock];
      double s[kBlock];
      row_max(x + base, C, inner, len, m);
      row_sum_exp(x + base, C, inner, len, m, s);
      for (int64_t j = 0; j < len; ++j) s[j] = std::log(s[j]);
      for (int64_t d = 0; d < C; ++d)
        for (int64_t j = 0; j < len; ++j) {
          int64_t k = base + d * inner + j;
          double lp = static_cast<double>(x[k] - m[j]) - s[j];
          logp[k] = static_cast<float>(lp);
          smooth[j] -= lp;
        }
      for (int64_t j = 0; j < len; ++j) {
        if (t[j] == ignore_index) {
          l[j] = 0.0;
          continue;
        }
        int64_t k = base + t[j] * inner + j;
        double nll = s[j] - static_cast<double>(x[k] - m[j]);
        l[j] = eps == 0.0 ? nll : (1.0 - eps) * nll + eps * smooth[j] / static_cast<double>(C);
      }
    } else {
      for (int64_t j = 0; j < len; ++j)
        l[j] = t[j] == ignore_index ? 0.0 : -static_cast<double>(x[base + t[j] * inner + j]);
    }
  });
}

void cross_entropy_backward(const float* logp, const int64_t* target, const float* scale,
                            int64_t scale_stride, float* dx, int64_t N, int64_t C, int64_t inner,
                            bool from_logits, double eps, int64_t ignore_index) {
  const double off = eps / static_cast<double>(C), on = 1.0 - eps + off;
  for_each_block(N, C, inner, [&](int64_t n, int64_t i0, int64_t i1) {
    const int64_t len = i1 - i0, base = n * C * inner + i0;
    const int64_t* t = target + n * inner + i0;
    for (int64_t j = 0; j < len; ++j) {
      if (t[j] == ignore_index) continue;
      const double sc = scale[(n * inner + i0 + j) * scale_stride];
      if (!from_logits) {
        dx[base + t[j] * inner + j] += static_cast<float>(-sc);
        continue;
      }
      for (int64_t d = 0; d < C; ++d) {
        int64_t k = base + d * inner + j;
        double q = d == t[j] ? on : off;
        dx[k] += static_cast<float>((std::exp(logp[k]) - q) * sc);
      }
    }
  });
}

}  // namespace wick::kernels
