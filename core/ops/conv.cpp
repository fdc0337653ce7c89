// conv2d: checks its arguments, runs the convolution kernels (core/kernels/conv.h: im2col + GEMM,
// or direct for few taps) and records their backward.
#include "core/ops/conv.h"

#include "core/autograd.h"
#include "core/kernels/conv.h"
#include "core/trace.h"

namespace wick {
namespace {

// Checks conv2d's arguments and works out its geometry.
kernels::Conv2dGeom conv_geom(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
                              Size2 dilation, int64_t groups) {
  WICK_CHECK(x.defined() && weight.defined(), "conv2d: input and weight must be defined tensors");
  WICK_CHECK(x.dtype() == Dtype::Float32 && weight.dtype() == Dtype::Float32,
             "conv2d: expects float32 input and weight, got ", dtype_name(x.dtype()), " and ",
             dtype_name(weight.dtype()));
  WICK_CHECK(x.dim() == 4 || x.dim() == 3, "conv2d: expects a 4-D (N, C, H, W) or 3-D (C, H, W) input, got ",
             shape_str(x.shape()));
  WICK_CHECK(weight.dim() == 4, "conv2d: expects a 4-D weight (out_channels, in_channels/groups, kH, kW), got ",
             shape_str(weight.shape()));
  WICK_CHECK(stride[0] > 0 && stride[1] > 0, "conv2d: stride must be positive, got ", stride.str());
  WICK_CHECK(padding[0] >= 0 && padding[1] >= 0, "conv2d: padding must be non-negative, got ", padding.str());
  WICK_CHECK(dilation[0] > 0 && dilation[1] > 0, "conv2d: dilation must be positive, got ", dilation.str());
  WICK_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);

  kernels::Conv2dGeom g{};
  g.n = x.dim() == 4 ? x.size(0) : 1, g.c = x.size(-3), g.h = x.size(-2), g.w = x.size(-1);
  g.o = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1];
  g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1];
  g.dh = dilation[0], g.dw = dilation[1], g.groups = groups;
  WICK_CHECK(g.c % groups == 0, "conv2d: groups=", groups, " does not divide the input's ", g.c,
             " channels (input ", shape_str(x.shape()), ")");
  WICK_CHECK(g.o % groups == 0, "conv2d: groups=", groups, " does not divide the weight's ", g.o,
             " output channels (weight ", shape_str(weight.shape()), ")");
  WICK_CHECK(weight.size(1) * groups == g.c, "conv2d: input ", shape_str(x.shape()), " has ", g.c,
             " channels but weight ", shape_str(weight.shape()), " with groups=", groups, " expects ",
             weight.size(1) * groups, " (weight.size(1) * groups)");
  WICK_CHECK(g.o > 0 && g.kh > 0 && g.kw > 0, "conv2d: weight ", shape_str(weight.shape()), " has a zero-sized dim");
  if (bias.defined()) {
    WICK_CHECK(bias.dtype() == Dtype::Float32, "conv2d: expects a float32 bias, got ", dtype_name(bias.dtype()));
    WICK_CHECK(bias.dim() == 1 && bias.size(0) == g.o, "conv2d: bias ", shape_str(bias.shape()),
               " must have shape [", g.o, "] (one per output channel of weight ", shape_str(weight.shape()), ")");
  }
  const int64_t eff_h = g.dh * (g.kh - 1) + 1, eff_w = g.dw * (g.kw - 1) + 1;
  const int64_t pad_h = g.h + 2 * g.ph, pad_w = g.w + 2 * g.pw;
  WICK_CHECK(eff_h <= pad_h && eff_w <= pad_w, "conv2d: kernel ", eff_h, "x", eff_w,
             " (after dilation) is larger than the padded input ", pad_h, "x", pad_w, " (input ",
             shape_str(x.shape()), ", weight ", shape_str(weight.shape()), ", padding ", padding.str(),
             ", dilation ", dilation.str(), ")");
  g.oh = (pad_h - eff_h) / g.sh + 1;
  g.ow = (pad_w - eff_w) / g.sw + 1;
  return g;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation,
              int64_t groups) {
  const kernels::Conv2dGeom g = conv_geom(x, weight, bias, stride, padding, dilation, groups);
  // An unbatched (C, H, W) input runs as a batch of one (the checks above named its own shape).
  if (x.dim() == 3) return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);

  Tensor out = empty({g.n, g.o, g.oh, g.ow});
  std::vector<Tensor> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  {
    Tensor xc = x.contiguous(), wc = weight.contiguous();
    Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
    if (out.numel() > 0)
      kernels::conv2d_forward(g, xc.data<float>(), wc.data<float>(), bc.defined() ? bc.data<float>() : nullptr,
                              false, out.data<float>());
  }
  // The derivation sits above kernels::conv2d_backward. The weight gradient rebuilds each image's
  // column matrix from x: keeping them from the forward would hold c*kh*kw times the input.
  record(out, "conv2d", inputs, [g, has_bias = bias.defined()](BackwardCtx& ctx) {
    const bool want_x = ctx.needs_grad(0), want_w = ctx.needs_grad(1);
    const bool want_b = has_bias && ctx.needs_grad(2);
    const float* gout = ctx.grad_out().data<float>();
    if (want_x) {  // first and whole (stored into a new accumulator), before another input's is asked for
      bool assign = false;
      float* gx = ctx.grad_in_or_new(0, assign).data<float>();
      kernels::conv2d_backward(g, nullptr, ctx.input(1).contiguous().data<float>(), gout, gx, nullptr, nullptr,
                               assign);
    }
    if (want_w || want_b)
      kernels::conv2d_backward(g, want_w ? ctx.input(0).contiguous().data<float>() : nullptr, nullptr, gout, nullptr,
                               want_w ? ctx.grad_in(1).data<float>() : nullptr,
                               want_b ? ctx.grad_in(2).data<float>() : nullptr);
  }, product_saves(x, weight));
  if (trace::active())
    trace::op("conv2d", out, {x, weight, bias},
              {{"stride", {stride[0], stride[1]}}, {"padding", {padding[0], padding[1]}},
               {"dilation", {dilation[0], dilation[1]}}, {"groups", {groups}}});
  return out;
}

Tensor conv2d_affine(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::vector<double>& scale,
                     const std::vector<double>& shift, bool relu, Size2 stride, Size2 padding, Size2 dilation,
                     int64_t groups, const Tensor& add, bool pool, const Tensor& packed_weight) {
  const kernels::Conv2dGeom g = conv_geom(x, weight, bias, stride, padding, dilation, groups);
  WICK_CHECK(!should_record({&x, &weight, &bias, &add}), "conv2d_affine: inference only (it records no gradient); ",
             "call it under NoGradGuard or with tensors that need no grad");
  const bool identity = scale.empty() && shift.empty();
  WICK_CHECK(identity || (static_cast<int64_t>(scale.size()) == g.o && static_cast<int64_t>(shift.size()) == g.o),
             "conv2d_affine: scale and shift need one value per output channel (", g.o, "), got ", scale.size(),
             " and ", shift.size());
  if (x.dim() == 3)
    return conv2d_affine(x.unsqueeze(0), weight, bias, scale, shift, relu, stride, padding, dilation, groups,
                         add.defined() ? add.unsqueeze(0) : add, pool, packed_weight)
        .squeeze(0);
  WICK_CHECK(!add.defined() || (add.shape() == Shape{g.n, g.o, g.oh, g.ow} && add.dtype() == Dtype::Float32),
             "conv2d_affine: the added tensor must have the output's shape ", shape_str({g.n, g.o, g.oh, g.ow}),
             ", got ", shape_str(add.shape()));
  WICK_CHECK(!pool || (g.oh >= 2 && g.ow >= 2), "conv2d_affine: 2x2 pooling needs an output of at least 2x2, got ",
             g.oh, "x", g.ow);
  Tensor out = pool ? empty({g.n, g.o, g.oh / 2, g.ow / 2}) : empty({g.n, g.o, g.oh, g.ow});
  Tensor xc = x.contiguous(), wc = weight.contiguous(), ac = add.defined() ? add.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  const float* pa = ac.defined() ? ac.data<float>() : nullptr;
  WICK_CHECK(!packed_weight.defined() ||
                 (packed_weight.dtype() == Dtype::Float32 && packed_weight.is_contiguous() &&
                  packed_weight.numel() == kernels::packed_conv_weights_size(g)),
             "conv2d_affine: packed_weight must be pack_conv2d_weight(weight, ...) (",
             kernels::packed_conv_weights_size(g),
             " contiguous floats), got ", shape_str(packed_weight.shape()));
  if (identity) {  // the weights as they are (a folded FusedConv2d's every call): no copy
    if (out.numel() > 0)
      kernels::conv2d_forward(g, xc.data<float>(), wc.data<float>(), bc.defined() ? bc.data<float>() : nullptr, relu,
                              out.data<float>(), pa, pool,
                              packed_weight.defined() ? packed_weight.data<float>() : nullptr, true);
    return out;
  }
  // conv(x, w, b)·s + t = conv(x, w·s, b·s + t): the scale folds into each output channel's
  // weights (rounded once, in double) and the shift into its bias.
  const int64_t per_out = wc.numel() / g.o;
  std::vector<float> w(static_cast<size_t>(wc.numel())), b(static_cast<size_t>(g.o));
  const float* pw = wc.data<float>();
  for (int64_t o = 0; o < g.o; ++o) {
    for (int64_t k = 0; k < per_out; ++k)
      w[o * per_out + k] = static_cast<float>(static_cast<double>(pw[o * per_out + k]) * scale[o]);
    const double b0 = bc.defined() ? bc.data<float>()[o] : 0.0;
    b[o] = static_cast<float>(b0 * scale[o] + shift[o]);
  }
  if (out.numel() > 0)
    kernels::conv2d_forward(g, xc.data<float>(), w.data(), b.data(), relu, out.data<float>(), pa, pool, nullptr, true);
  return out;
}

Tensor pack_conv2d_weight(const Tensor& weight, Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  WICK_CHECK(weight.defined() && weight.dtype() == Dtype::Float32 && weight.dim() == 4,
             "pack_conv2d_weight: expects a 4-D float32 weight (out_channels, in_channels/groups, kH, kW)");
  WICK_CHECK(groups > 0 && weight.size(0) % groups == 0, "pack_conv2d_weight: groups=", groups,
             " does not divide the weight's ", weight.size(0), " output channels");
  kernels::Conv2dGeom g{};
  g.o = weight.size(0), g.c = weight.size(1) * groups, g.kh = weight.size(2), g.kw = weight.size(3);
  g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1];
  g.dh = dilation[0], g.dw = dilation[1], g.groups = groups;
  const Tensor wc = weight.contiguous();
  std::vector<float> packed = kernels::pack_conv_weights(g, wc.data<float>());
  if (packed.empty()) return Tensor();
  return from_vector(packed, {static_cast<int64_t>(packed.size())});
}

}  // namespace wick
