// Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d. Options are read at every forward.
#pragma once
#include <optional>

#include "module.h"
#include "../core/options.h"
#include "registry.h"

namespace wick::nn {

struct MaxPool2dOptions {
  MaxPool2dOptions() = default;  // for the registry: a description gives the required fields
  MaxPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  WICK_ARG(Size2, kernel_size) = 0;
  WICK_ARG(Size2, stride) = 0;  // defaults to kernel_size
  WICK_ARG(Size2, padding) = 0;
  WICK_ARG(Size2, dilation) = 1;
  WICK_ARG(bool, ceil_mode) = false;

 public:
  void fields(Fields& f);
};
class MaxPool2dImpl : public Module {
 public:
  explicit MaxPool2dImpl(const MaxPool2dOptions& options) : options(options) {}
  explicit MaxPool2dImpl(Size2 kernel_size) : MaxPool2dImpl(MaxPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  MaxPool2dOptions options;
};
WICK_MODULE(MaxPool2d);
WICK_REGISTER_MODULE(MaxPool2d);

struct AvgPool2dOptions {
  AvgPool2dOptions() = default;  // for the registry: a description gives the required fields
  AvgPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  WICK_ARG(Size2, kernel_size) = 0;
  WICK_ARG(Size2, stride) = 0;  // defaults to kernel_size
  WICK_ARG(Size2, padding) = 0;
  WICK_ARG(bool, ceil_mode) = false;
  WICK_ARG(bool, count_include_pad) = true;

 public:
  void fields(Fields& f);
};
class AvgPool2dImpl : public Module {
 public:
  explicit AvgPool2dImpl(const AvgPool2dOptions& options) : options(options) {}
  explicit AvgPool2dImpl(Size2 kernel_size) : AvgPool2dImpl(AvgPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  AvgPool2dOptions options;
};
WICK_MODULE(AvgPool2d);
WICK_REGISTER_MODULE(AvgPool2d);

struct AdaptiveAvgPool2dOptions {
  AdaptiveAvgPool2dOptions() = default;  // for the registry: a description gives the required fields
  AdaptiveAvgPool2dOptions(Size2 output_size) : output_size_(output_size) {}  // NOLINT
  WICK_ARG(Size2, output_size) = 1;

 public:
  void fields(Fields& f) { f.required("output_size", output_size_, Check::Positive); }
};
class AdaptiveAvgPool2dImpl : public Module {
 public:
  explicit AdaptiveAvgPool2dImpl(const AdaptiveAvgPool2dOptions& options) : options(options) {}
  explicit AdaptiveAvgPool2dImpl(Size2 output_size) : AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions(output_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override { return "output_size=" + options.output_size().str(); }
  AdaptiveAvgPool2dOptions options;
};
WICK_MODULE(AdaptiveAvgPool2d);
WICK_REGISTER_MODULE(AdaptiveAvgPool2d);

}  // namespace wick::nn
