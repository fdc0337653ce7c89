// Functional group and layer normalization, as PyTorch 1.13's F.group_norm and F.layer_norm: the
// statistics come from each sample alone (no batch statistics, no running buffers), so training
// and eval mode compute the same thing. Both run on the kernels of core/kernels/group_norm.h.
#pragma once
#include <cstdint>
#include <vector>

#include "../tensor.h"

namespace wick {

// x (N, C, *), C divisible by num_groups: each sample's C/num_groups channels of a group, over
// every spatial position, are normalized with their mean and biased variance; then channel c is
// scaled by weight[c] and shifted by bias[c] (both (C), either may be undefined). Gradients flow
// to x, weight and bias.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias,
                  double eps = 1e-5);

// x (*, normalized_shape...): each sample's trailing dims equal to normalized_shape are normalized
// with their mean and biased variance, then multiplied by weight and shifted by bias elementwise
// (both of shape normalized_shape, either may be undefined). Gradients flow to x, weight and bias.
Tensor layer_norm(const Tensor& x, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps = 1e-5);

}  // namespace wick
