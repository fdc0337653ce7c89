// nn::GroupNorm and nn::LayerNorm, as PyTorch 1.13's: normalization with each sample's own
// statistics (core/ops/group_norm.h), so they behave the same in training and eval mode and keep
// no running buffers; only weight and bias, named as PyTorch names them.
#pragma once
#include <vector>

#include "../core/options.h"
#include "module.h"
#include "registry.h"

namespace wick::nn {

// What both layers hold: a weight (starting at 1) and a bias (at 0) of one shape, or neither.
class AffineNormBase : public Module {
 public:
  void reset_parameters();  // weight 1, bias 0
  Tensor weight, bias;      // undefined without the affine option

 protected:
  void register_affine(const Shape& shape);
};

// num_channels and affine are fixed at construction (they decide which tensors exist); num_groups
// and eps are read at every forward.
struct GroupNormOptions {
  GroupNormOptions() = default;  // for the registry: a description gives num_groups and num_channels
  GroupNormOptions(int64_t num_groups, int64_t num_channels) : num_groups_(num_groups), num_channels_(num_channels) {}
  WICK_ARG(int64_t, num_groups) = 0;
  WICK_ARG(int64_t, num_channels) = 0;
  WICK_ARG(double, eps) = 1e-5;
  WICK_ARG(bool, affine) = true;

 public:
  void fields(Fields& f);
};

// Over (N, C, *) with C = num_channels: statistics per sample and group of C / num_groups channels;
// weight and bias (C).
class GroupNormImpl : public AffineNormBase {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels)
      : GroupNormImpl(GroupNormOptions(num_groups, num_channels)) {}
  explicit GroupNormImpl(const GroupNormOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  GroupNormOptions options;
};
WICK_MODULE(GroupNorm);
WICK_REGISTER_MODULE(GroupNorm);

// elementwise_affine is fixed at construction; normalized_shape and eps are read at every forward
// (a normalized_shape other than the weight's is then an error).
struct LayerNormOptions {
  LayerNormOptions() = default;  // for the registry: a description gives normalized_shape
  LayerNormOptions(std::vector<int64_t> normalized_shape)  // NOLINT: implicit, as BatchNorm's options
      : normalized_shape_(std::move(normalized_shape)) {}
  WICK_ARG(std::vector<int64_t>, normalized_shape);
  WICK_ARG(double, eps) = 1e-5;
  WICK_ARG(bool, elementwise_affine) = true;

 public:
  void fields(Fields& f);
};

// Over (*, normalized_shape...): statistics per sample over the trailing dims; weight and bias of
// shape normalized_shape.
class LayerNormImpl : public AffineNormBase {
 public:
  explicit LayerNormImpl(const LayerNormOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  LayerNormOptions options;
};
WICK_MODULE(LayerNorm);
WICK_REGISTER_MODULE(LayerNorm);

}  // namespace wick::nn
