// dropout: a mask drawn from the global generator (so manual_seed reproduces it), applied in the
// forward and reused by the backward.
#include <cmath>

#include "core/autograd.h"
#include "core/ops/dropout.h"
#include "core/parallel.h"
#include "core/random.h"

namespace wick {

Tensor dropout(const Tensor& x, double p, bool training) {
  WICK_CHECK(x.defined(), "dropout: input is undefined");
  WICK_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  WICK_CHECK(x.dtype() == Dtype::Float32, "dropout: expects a float32 tensor, got ", dtype_name(x.dtype()));
  // The identity, as PyTorch: same tensor, same graph.
  if (!training || p == 0.0 || x.numel() == 0) return x;
  const int64_t n = x.numel();
  // mask_i = 0 with probability p, else 1 / (1 - p); p = 1 drops everything and draws nothing.
  Tensor mask = zeros(x.shape());
  if (p < 1.0) {
    Tensor r = rand(x.shape());  // one draw per element, in row-major order
    const float* pr = r.data<float>();
    float* pm = mask.data<float>();
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; ++i) pm[i] = static_cast<double>(pr[i]) < p ? 0.f : scale;
  }
  Tensor xc = x.detach().contiguous();
  Tensor out = empty(x.shape());
  const float* px = xc.data<float>();
  const float* pm = mask.data<float>();
  float* po = out.data<float>();
  parallel_for(0, n, 32768, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) po[i] = px[i] * pm[i];
  });
  // y = x * mask  =>  dx = g * mask, with the forward's mask.
  record(out, "dropout", {x}, [mask, n](BackwardCtx& ctx) {
    const float* g = ctx.grad_out().data<float>();
    const float* m = mask.data<float>();
    float* gx = ctx.grad_in(0).data<float>();
    parallel_for(0, n, 32768, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) gx[i] += g[i] * m[i];
    });
  });
  return out;
}

}  // namespace wick
