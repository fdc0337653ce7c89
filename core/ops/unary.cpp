// Unary elementwise ops. Each is a forward f(x) and its backward dx(g, v) = g · dy/dx written next
// to it, v being the one value the derivative reads (the input x or the result y), so the graph
// saves only that; the shared backward adds dx into the input's gradient. Each op is traced under
// its name, with its parameters as attributes (core/trace.h).
#include <cmath>

#include "core/autograd.h"
#include "core/kernels/strided.h"
#include "core/ops/unary.h"
#include "core/trace.h"

namespace wick {
namespace {

enum class Reads { nothing, input, result };

template <typename F>
void apply(const float* px, float* po, int64_t n, F f) {
  parallel_for(0, n, 32768, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) po[i] = f(px[i]);
  });
}

// y = f(x) elementwise over a contiguous copy of x; records the backward dL/dx = dx(g, v).
// dx is a whole expression rather than a factor so a mask (relu) compiles to a select, not a branch.
// When x is a recomputable result (a batch norm's), so is y: f over x made again (autograd.h).
template <typename F, typename DX>
Tensor unary(const Tensor& x, const char* op, Reads reads, F f, DX dx, std::vector<trace::Attr> attrs = {}) {
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 tensor, got ", dtype_name(x.dtype()));
  Tensor xc = x.contiguous();
  Tensor out = empty(x.shape());
  apply(xc.data<float>(), out.data<float>(), out.numel(), f);
  const Saves saves = reads == Reads::input    ? Saves{.inputs = {0}}
                      : reads == Reads::result ? Saves{.inputs = {}, .out = true}
                                               : Saves{};
  record(out, op, {x}, [dx, reads, n = out.numel()](BackwardCtx& ctx) {
    // With Reads::nothing dx ignores v, and is handed g.
    Tensor v = reads == Reads::input ? ctx.input(0).contiguous() : reads == Reads::result ? ctx.out() : ctx.grad_out();
    const float* vs = v.data<float>();
    const float* g = ctx.grad_out().data<float>();
    bool assign = false;  // the input's gradient is new: store rather than add
    float* gx = ctx.grad_in_or_new(0, assign).data<float>();
    parallel_for(0, n, 32768, [&](int64_t b, int64_t e) {
      if (assign)
        for (int64_t i = b; i < e; ++i) gx[i] = dx(g[i], vs[i]);
      else
        for (int64_t i = b; i < e; ++i) gx[i] += dx(g[i], vs[i]);
    });
  }, saves);
  if (is_recomputable(x))
    set_recompute(out, [f](const Node& node) {
      const Node& in = *node.next[0].node;
      Tensor y = in.recompute(in);
      apply(y.data<float>(), y.data<float>(), y.numel(), f);
      return y;
    });
  if (trace::active()) trace::op(op, out, {x}, std::move(attrs));
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) {
  return unary(x, "neg", Reads::nothing, [](float v) { return -v; }, [](float g, float) { return -g; });
}

Tensor pow(const Tensor& x, double exponent) {
  const float p = static_cast<float>(exponent);
  // d x^p / dx = p x^(p-1)
  return unary(
      x, "pow", Reads::input, [p](float v) { return std::pow(v, p); },
      [p](float g, float v) { return g * (p == 0.f ? 0.f : p * std::pow(v, p - 1.f)); }, {{"exponent", {}, exponent}});
}

Tensor sqrt(const Tensor& x) {
  // d sqrt(x) / dx = 1 / (2 sqrt(x))
  return unary(x, "sqrt", Reads::result, [](float v) { return std::sqrt(v); },
               [](float g, float y) { return g * (0.5f / y); });
}

Tensor exp(const Tensor& x) {
  return unary(x, "exp", Reads::result, [](float v) { return std::exp(v); }, [](float g, float y) { return g * y; });
}

Tensor log(const Tensor& x) {
  return unary(x, "log", Reads::input, [](float v) { return std::log(v); },
               [](float g, float v) { return g * (1.f / v); });
}

Tensor abs(const Tensor& x) {
  return unary(
      x, "abs", Reads::input, [](float v) { return std::fabs(v); },
      [](float g, float v) { return g * (v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f)); });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  WICK_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  const float l = static_cast<float>(lo), h = static_cast<float>(hi);
  return unary(
      x, "clamp", Reads::input, [l, h](float v) { return std::isnan(v) ? v : std::min(std::max(v, l), h); },
      [l, h](float g, float v) { return (v >= l && v <= h) ? g : 0.f; }, {{"min", {}, lo}, {"max", {}, hi}});
}

Tensor relu(const Tensor& x) {
  // NaN passes through, and so does its gradient; a masked gradient is 0 even when g is Inf or NaN
  // (PyTorch's threshold_backward).
  return unary(
      x, "relu", Reads::result, [](float v) { return v > 0.f || std::isnan(v) ? v : 0.f; },
      [](float g, float y) { return y <= 0.f ? 0.f : g; });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  const float s = static_cast<float>(negative_slope);
  return unary(
      x, "leaky_relu", Reads::input, [s](float v) { return v > 0.f ? v : s * v; },
      [s](float g, float v) { return g * (v > 0.f ? 1.f : s); }, {{"negative_slope", {}, negative_slope}});
}

Tensor sigmoid(const Tensor& x) {
  // σ' = σ (1 - σ)
  return unary(
      x, "sigmoid", Reads::result, [](float v) { return 1.f / (1.f + std::exp(-v)); },
      [](float g, float y) { return g * (y * (1.f - y)); });
}

Tensor tanh(const Tensor& x) {
  return unary(
      x, "tanh", Reads::result, [](float v) { return std::tanh(v); }, [](float g, float y) { return g * (1.f - y * y); });
}

}  // namespace wick
