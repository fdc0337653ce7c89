// 2-D pooling over (N, C, H, W) or (C, H, W) inputs, with PyTorch's output-size rules.
#pragma once
#include "conv.h"

namespace wick {

// stride {0, 0} means stride = kernel_size (PyTorch's default). Padding is at most half the kernel.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  Size2 dilation = {1, 1}, bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride = {0, 0}, Size2 padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

}  // namespace wick
