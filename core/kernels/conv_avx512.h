// Direct stride-1 convolution with AVX-512: reads each image where it lies (no padded copy, no
// column matrix) and writes its output with bias, added input and ReLU applied in registers.
// conv2d_forward (conv.h) runs it, and dL/dx of a stride-1 convolution, wherever gemm_kernel() is
// Avx512; elsewhere the padded-width GEMM form does the same arithmetic.
#pragma once
#include <cstdint>

#include "conv.h"

namespace wick::kernels {

// Kernel sizes up to this fit (one lane mask per tap row and column is kept per vector).
inline constexpr int64_t kDirectAvx512MaxKernel = 16;

// True for the shapes conv2d_avx512 takes: one group, unit stride and dilation, a kernel of at
// most kDirectAvx512MaxKernel in each dimension, not a plain 1x1 (whose GEMM reads the image as
// it is). Call only when cpu_has_avx512() (gemm.h).
bool conv_avx512_fits(const Conv2dGeom& g);

// One image x_img (c, h, w), w (o, c, kh, kw), b (o) or null, add_img (o, oh, ow) or null (it may
// be out_img itself) -> out_img (o, oh, ow), output channels [o0, o1) and rows [y0, y1) only: out = conv + add + b, then max(out, 0) when relu (NaN kept). Each element is summed
// over its taps k = (ci*kh + i)*kw + j in order, by fused multiply-adds, in blocks of 256 taps
// added up in order: the order of gemm_avx512 in the padded-width form, so the bits are the same
// as that form's, whatever the block of output computed at once. Taps that read padding add
// nothing (with finite weights, as the padded form's zeros do).
void conv2d_avx512(const Conv2dGeom& g, const float* x_img, const float* w, const float* b, bool relu,
                   float* out_img, const float* add_img, int64_t o0, int64_t o1, int64_t y0, int64_t y1);

}  // namespace wick::kernels
