// 2-D convolution (cross-correlation, as PyTorch) with stride, padding, dilation and groups.
#pragma once
#include <array>
#include <vector>

#include "../options.h"
#include "../tensor.h"

namespace wick {


// x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O) or undefined -> (N, O, OH, OW) with
// OH = (H + 2*padding[0] - dilation[0]*(KH-1) - 1) / stride[0] + 1, likewise OW.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = {1, 1},
              Size2 padding = {0, 0}, Size2 dilation = {1, 1}, int64_t groups = 1);

// Inference only (refuses inputs that would record a gradient): conv2d(...)·scale[o] + shift[o]
// per output channel (empty scale and shift: 1 and 0), plus `add` (the output's shape; undefined:
// nothing), then max(·, 0) when relu, in one pass (the scale is folded into the weights); with
// pool, then max_pool2d(·, 2) image by image while in cache (the output is (N, O, OH/2, OW/2)).
// The fused inference layers (layers/fuse.h) run through it; the result matches the unfused ops
// to float rounding (exactly, for the pooling). packed_weight, when defined, is
// pack_conv2d_weight(weight, stride, padding, dilation, groups) (used only with an empty scale and
// shift).
Tensor conv2d_affine(const Tensor& x, const Tensor& weight, const Tensor& bias, const std::vector<double>& scale,
                     const std::vector<double>& shift, bool relu, Size2 stride = {1, 1}, Size2 padding = {0, 0},
                     Size2 dilation = {1, 1}, int64_t groups = 1, const Tensor& add = Tensor(), bool pool = false,
                     const Tensor& packed_weight = Tensor());

// The weights as conv2d_affine's kernel reads them, for a caller whose weights stay the same
// between calls (a fused inference layer packs them once, not on every call): undefined when
// that kernel reads them as they are (the choice depends on the weight's shape, the stride,
// padding, dilation and groups, and the GEMM kernel in use, core/blas.h). A stride-1 3x3
// convolution with padding 1 given them runs as Winograd F(2x2, 3x3) (docs/performance.md): its
// outputs differ from conv2d's by float rounding, not bit for bit.
Tensor pack_conv2d_weight(const Tensor& weight, Size2 stride = {1, 1}, Size2 padding = {0, 0},
                          Size2 dilation = {1, 1}, int64_t groups = 1);

}  // namespace wick
