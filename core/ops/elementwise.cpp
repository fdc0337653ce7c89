// Binary elementwise ops with NumPy broadcasting. The forward walks the three operands row by
// row (core/kernels/strided.h); the backward reduces each gradient back to its input's shape.
#include "core/ops/elementwise.h"

#include "core/autograd.h"
#include "core/kernels/strided.h"
#include "core/ops/reduce.h"
#include "core/trace.h"

namespace wick {
namespace {

void check_float(const Tensor& a, const Tensor& b, const char* op) {
  WICK_CHECK(a.dtype() == Dtype::Float32 && b.dtype() == Dtype::Float32, op,
             ": expects float32 tensors, got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
}

// out = f(a, b) over the broadcast shape.
template <typename F>
Tensor binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_float(a, b, op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape);
  float* o = out.data<float>();
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  kernels::for_each_row<3>(
      shape, {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
              broadcast_strides(b.shape(), b.strides(), shape)},
      [&](std::array<int64_t, 3> off, int64_t len, std::array<int64_t, 3> st) {
        float* po = o + off[0];
        const float* xa = pa + off[1];
        const float* xb = pb + off[2];
        if (st[1] == 1 && st[2] == 1)
          for (int64_t j = 0; j < len; ++j) po[j] = f(xa[j], xb[j]);
        else
          for (int64_t j = 0; j < len; ++j) po[j] = f(xa[j * st[1]], xb[j * st[2]]);
      });
  return out;
}

// Adds g (broadcast shape) into input i's gradient, scaled, reducing broadcast dims; stores it
// when that gradient has no accumulator yet.
void accumulate(BackwardCtx& ctx, size_t i, const Tensor& g, double scale = 1.0) {
  if (!ctx.needs_grad(i)) return;
  bool assign = false;
  Tensor& gi = ctx.grad_in_or_new(i, assign);
  if (!assign) {
    gi.add_(sum_to_shape(g, gi.shape()), scale);
    return;
  }
  gi.copy_(sum_to_shape(g, gi.shape()));
  if (scale != 1.0) gi.mul_(scale);
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  const float al = static_cast<float>(alpha);
  Tensor out = binary(a, b, "add", [al](float x, float y) { return x + al * y; });
  record(out, "add", {a, b}, [alpha](BackwardCtx& ctx) {
    accumulate(ctx, 1, ctx.grad_out(), alpha);  // first: input 0 may take grad_out itself
    if (!ctx.needs_grad(0) || !ctx.pass_grad_out(0)) accumulate(ctx, 0, ctx.grad_out());
  });
  if (trace::active()) trace::op("add", out, {a, b}, {{"alpha", {}, alpha}});
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return add(a, b, -alpha); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "mul", [](float x, float y) { return x * y; });
  // d(ab)/da = b, d(ab)/db = a.
  record(out, "mul", {a, b}, [](BackwardCtx& ctx) {
    if (ctx.needs_grad(0)) accumulate(ctx, 0, mul(ctx.grad_out(), ctx.input(1)));
    if (ctx.needs_grad(1)) accumulate(ctx, 1, mul(ctx.grad_out(), ctx.input(0)));
  }, product_saves(a, b));
  if (trace::active()) trace::op("mul", out, {a, b});
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary(a, b, "div", [](float x, float y) { return x / y; });
  // d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2 = -out/b.
  record(out, "div", {a, b}, [](BackwardCtx& ctx) {
    const Tensor& g = ctx.grad_out();
    if (ctx.needs_grad(0)) accumulate(ctx, 0, div(g, ctx.input(1)));
    if (ctx.needs_grad(1)) accumulate(ctx, 1, div(mul(g, ctx.out()), ctx.input(1)), -1.0);
  }, {.inputs = {1}, .out = b.requires_grad()});
  if (trace::active()) trace::op("div", out, {a, b});
  return out;
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_tensor(b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_tensor(b)); }

}  // namespace wick
