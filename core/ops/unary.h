// Unary elementwise ops on float32 tensors, all differentiable (core/ops/unary.cpp).
#pragma once
#include "../tensor.h"

namespace wick {

Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sqrt(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor abs(const Tensor& x);  // gradient 0 at 0, as PyTorch
// Clamps to [lo, hi]; the gradient passes where lo <= x <= hi (PyTorch's convention).
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

}  // namespace wick
