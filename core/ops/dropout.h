// dropout (core/ops/dropout.cpp).
#pragma once
#include "../tensor.h"

namespace wick {

// Zeroes each element with probability p and scales the rest by 1/(1-p) when training; the
// identity otherwise. Masks come from the global generator (manual_seed).
Tensor dropout(const Tensor& x, double p, bool training);

}  // namespace wick
