// max_pool2d, avg_pool2d and adaptive_avg_pool2d: argument checks with PyTorch's output-size rules,
// the kernels of core/kernels/pool.h, and their backward.
#include "core/ops/pool.h"

#include <limits>
#include <memory>

#include "core/autograd.h"
#include "core/kernels/pool.h"
#include "core/trace.h"

namespace wick {
namespace {


// Checks a (N, C, H, W) or (C, H, W) float32 input with non-empty spatial dims.
void check_input(const Tensor& x, const char* op) {
  WICK_CHECK(x.defined(), op, ": the input is an undefined tensor");
  WICK_CHECK(x.dtype() == Dtype::Float32, op, ": expects a float32 input, got ", dtype_name(x.dtype()));
  WICK_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expects a 4-D (N, C, H, W) or 3-D (C, H, W) input, got ",
             shape_str(x.shape()));
  WICK_CHECK(x.size(-1) > 0 && x.size(-2) > 0, op, ": input ", shape_str(x.shape()), " has an empty spatial dim");
}

// The geometry of a windowed pool, checked; stride {0, 0} becomes the kernel size.
kernels::Pool2dGeom pool_geom(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
                              bool ceil_mode, const char* op) {
  check_input(x, op);
  WICK_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel_size must be positive, got ", kernel.str());
  if (stride[0] == 0 && stride[1] == 0) stride = kernel;
  WICK_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive ({0, 0} means kernel_size), got ",
             stride.str());
  WICK_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ", dilation.str());
  WICK_CHECK(padding[0] >= 0 && padding[1] >= 0 && padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
             ": padding must be non-negative and at most half the kernel size, got padding ", padding.str(),
             " for kernel_size ", kernel.str());
  kernels::Pool2dGeom g{};
  g.h = x.size(-2), g.w = x.size(-1);
  g.planes = x.numel() / (g.h * g.w);
  g.kh = kernel[0], g.kw = kernel[1], g.sh = stride[0], g.sw = stride[1];
  g.ph = padding[0], g.pw = padding[1], g.dh = dilation[0], g.dw = dilation[1];
  g.oh = kernels::pool_output_size(g.h, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.ow = kernels::pool_output_size(g.w, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  WICK_CHECK(g.oh >= 1 && g.ow >= 1, op, ": input ", shape_str(x.shape()), " is too small for kernel_size ",
             kernel.str(), " with stride ", stride.str(), ", padding ", padding.str(), " and dilation ",
             dilation.str(), ": the output would be ", g.oh, "x", g.ow);
  return g;
}

Shape out_shape(const Tensor& x, int64_t oh, int64_t ow) {
  Shape s = x.shape();
  s[s.size() - 2] = oh;
  s[s.size() - 1] = ow;
  return s;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding, Size2 dilation, bool ceil_mode) {
  const kernels::Pool2dGeom g = pool_geom(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d");
  Tensor out = empty(out_shape(x, g.oh, g.ow));
  WICK_CHECK(g.h * g.w <= std::numeric_limits<int32_t>::max(), "max_pool2d: input ", shape_str(x.shape()),
             " has planes of more than 2^31 - 1 cells");
  // Argmax positions within each plane, saved for the backward (none when no graph is recorded).
  std::shared_ptr<Storage> idx;
  if (should_record({&x})) idx = std::make_shared<Storage>(static_cast<size_t>(out.numel()) * sizeof(int32_t));
  {
    Tensor xc = x.contiguous();
    if (out.numel() > 0)
      kernels::max_pool2d_forward(g, xc.data<float>(), out.data<float>(),
                                  idx ? static_cast<int32_t*>(idx->data()) : nullptr);
  }
  // Each output is one input cell (its argmax), so dL/dx[argmax] += dL/dout.
  record(out, "max_pool2d", {x}, [g, idx](BackwardCtx& ctx) {
    bool assign = false;
    float* gx = ctx.grad_in_or_new(0, assign).data<float>();
    kernels::max_pool2d_backward(g, ctx.grad_out().data<float>(), static_cast<const int32_t*>(idx->data()), assign,
                                 gx);
  });
  if (trace::active())
    trace::op("max_pool2d", out, {x},
              {{"kernel_size", {g.kh, g.kw}}, {"stride", {g.sh, g.sw}}, {"padding", {g.ph, g.pw}},
               {"dilation", {g.dh, g.dw}}, {"ceil_mode", {ceil_mode}}});
  return out;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad) {
  const kernels::Pool2dGeom g = pool_geom(x, kernel_size, stride, padding, {1, 1}, ceil_mode, "avg_pool2d");
  Tensor out = empty(out_shape(x, g.oh, g.ow));
  {
    Tensor xc = x.contiguous();
    if (out.numel() > 0) kernels::avg_pool2d_forward(g, count_include_pad, xc.data<float>(), out.data<float>());
  }
  // out = Σ_window x / divisor, so each cell of the window gets dL/dout / divisor.
  record(out, "avg_pool2d", {x}, [g, count_include_pad](BackwardCtx& ctx) {
    kernels::avg_pool2d_backward(g, count_include_pad, ctx.grad_out().data<float>(), ctx.grad_in(0).data<float>());
  });
  if (trace::active())
    trace::op("avg_pool2d", out, {x},
              {{"kernel_size", {g.kh, g.kw}}, {"stride", {g.sh, g.sw}}, {"padding", {g.ph, g.pw}},
               {"ceil_mode", {ceil_mode}}, {"count_include_pad", {count_include_pad}}});
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  check_input(x, "adaptive_avg_pool2d");
  WICK_CHECK(output_size[0] > 0 && output_size[1] > 0, "adaptive_avg_pool2d: output_size must be positive, got ",
             output_size.str());
  const int64_t h = x.size(-2), w = x.size(-1), oh = output_size[0], ow = output_size[1];
  const int64_t planes = x.numel() / (h * w);
  Tensor out = empty(out_shape(x, oh, ow));
  {
    Tensor xc = x.contiguous();
    if (out.numel() > 0)
      kernels::adaptive_avg_pool2d_forward(planes, h, w, oh, ow, xc.data<float>(), out.data<float>());
  }
  // out = mean over a bin, so each cell of the bin gets dL/dout / (bin height * bin width).
  record(out, "adaptive_avg_pool2d", {x}, [planes, h, w, oh, ow](BackwardCtx& ctx) {
    kernels::adaptive_avg_pool2d_backward(planes, h, w, oh, ow, ctx.grad_out().data<float>(),
                                          ctx.grad_in(0).data<float>());
  });
  if (trace::active()) trace::op("adaptive_avg_pool2d", out, {x}, {{"output_size", {oh, ow}}});
  return out;
}

}  // namespace wick
