// Direct 2-D convolution kernels (no im2col) for the shapes whose GEMM is poorly shaped: one
// group, unit stride and dilation, and few taps K = c*kh*kw, like a first conv on 1- or 3-channel
// images (K = 9 for small-cnn's). conv2d_forward and conv2d_backward (conv.h) dispatch here.
#pragma once
#include <cstdint>

#include "conv.h"

namespace wick::kernels {

// The kernels take any shape with one group, unit stride and dilation, at most kDirectMaxTaps
// taps (c*kh*kw) and output channels a multiple of 8. conv2d uses them where they measured faster
// than im2col + GEMM, which also needs rows of at least kDirectMinWidth output pixels (on shorter
// rows the GEMM is as fast).
inline constexpr int64_t kDirectMaxTaps = 9;
inline constexpr int64_t kDirectMinWidth = 24;

// True for the shapes conv2d_backward's dL/dw runs through the kernels below, and conv2d_forward
// too unless the channel-vector form (conv_avx512.h) fits, which is faster (small-cnn's first
// conv, 32 channels, batch 64: 0.27-0.30 against 0.31-0.53 ms): the kernels' shapes, not 1x1
// (whose GEMM reads x itself, no im2col), rows of at least kDirectMinWidth.
bool direct_conv_fits(const Conv2dGeom& g);

// As conv2d_forward: x (n, c, h, w), w (o, c, kh, kw), b (o) or null -> out
// (n, o, oh, ow) (assigned), then max(out, 0) when relu (NaN kept), then, when pool, 2x2 max
// pooling (stride 2) into out (n, o, oh/2, ow/2).
void conv2d_direct_forward(const Conv2dGeom& g, const float* x, const float* w, const float* b, bool relu,
                           float* out, bool pool = false);

// Adds dL/dw into gw (o, c, kh, kw), from x (n, c, h, w) and gout = dL/d out (n, o, oh, ow).
void conv2d_direct_weight_grad(const Conv2dGeom& g, const float* x, const float* gout, float* gw);

}  // namespace wick::kernels
