// nn::Conv2d over (N, C, H, W) inputs.
#pragma once
#include "module.h"
#include "../core/options.h"
#include "registry.h"

namespace wick::nn {

// in_channels, out_channels, kernel_size, groups and bias fix the weights' shapes at
// construction; stride, padding and dilation are read at every forward.
struct Conv2dOptions {
  Conv2dOptions() = default;  // for the registry: a description gives the required fields
  Conv2dOptions(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  WICK_ARG(int64_t, in_channels) = 0;
  WICK_ARG(int64_t, out_channels) = 0;
  WICK_ARG(Size2, kernel_size) = 0;
  WICK_ARG(Size2, stride) = 1;
  WICK_ARG(Size2, padding) = 0;
  WICK_ARG(Size2, dilation) = 1;
  WICK_ARG(int64_t, groups) = 1;
  WICK_ARG(bool, bias) = true;

 public:
  void fields(Fields& f);
};

// weight (out, in/groups, KH, KW) and bias (out) start as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
class Conv2dImpl : public Module {
 public:
  explicit Conv2dImpl(const Conv2dOptions& options);
  Conv2dImpl(int64_t in_channels, int64_t out_channels, Size2 kernel_size)
      : Conv2dImpl(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  void reset_parameters();
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Conv2dOptions options;
  Tensor weight, bias;  // bias undefined when options.bias() is false
};
WICK_MODULE(Conv2d);
WICK_REGISTER_MODULE(Conv2d);

}  // namespace wick::nn
