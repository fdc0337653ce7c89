// What a model costs for one input: its parameter count and the floating-point operations of one
// forward pass, counted by running it once on a single zero sample (eval mode, on a copy).
#pragma once
#include "../core/shape.h"
#include "module.h"

namespace wick::nn {

struct ForwardCost {
  int64_t parameters = 0;
  // 2 x the multiply-adds of every Conv2d and Linear (the convention of Goyal et al. and most
  // papers' "FLOPs" tables); normalization, activations, pooling and adds are not counted.
  double flops = 0;
  Shape output;  // of one sample, without the batch dim
};

// `sample` is one input without the batch dim, e.g. {1, 28, 28}. Walks Sequential and Residual
// containers; a module with children of another kind is refused (its forward is its own code).
ForwardCost forward_cost(const Module& model, const Shape& sample);

}  // namespace wick::nn
