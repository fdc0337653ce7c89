// Pooling layers over the functional pooling ops.
#include "layers/pooling.h"

#include "core/ops/pool.h"

namespace wick::nn {

void MaxPool2dOptions::fields(Fields& f) {
  f.required("kernel_size", kernel_size_, Check::Positive);
  if (f.reading()) stride_ = kernel_size_;  // PyTorch: the stride defaults to the kernel size
  f.optional("stride", stride_, Check::Positive);
  f.optional("padding", padding_, Check::NonNegative);
  f.optional("dilation", dilation_, Check::Positive);
  f.optional("ceil_mode", ceil_mode_);
}

void AvgPool2dOptions::fields(Fields& f) {
  f.required("kernel_size", kernel_size_, Check::Positive);
  if (f.reading()) stride_ = kernel_size_;
  f.optional("stride", stride_, Check::Positive);
  f.optional("padding", padding_, Check::NonNegative);
  f.optional("ceil_mode", ceil_mode_);
  f.optional("count_include_pad", count_include_pad_);
}

Tensor MaxPool2dImpl::forward(const Tensor& x) {
  const auto& o = options;
  return max_pool2d(x, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}

std::string MaxPool2dImpl::extra_repr() const {
  const auto& o = options;
  return "kernel_size=" + o.kernel_size().str(true) + ", stride=" + o.stride().str(true) +
         ", padding=" + o.padding().str(true) + ", dilation=" + o.dilation().str(true) +
         ", ceil_mode=" + (o.ceil_mode() ? "True" : "False");
}

Tensor AvgPool2dImpl::forward(const Tensor& x) {
  const auto& o = options;
  return avg_pool2d(x, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(), o.count_include_pad());
}

std::string AvgPool2dImpl::extra_repr() const {
  const auto& o = options;
  // PyTorch prints only these three; wick adds the other two when they are not the default, so
  // the printout (which wick files store as the architecture) loses nothing.
  std::string s = "kernel_size=" + o.kernel_size().str(true) + ", stride=" + o.stride().str(true) +
                  ", padding=" + o.padding().str(true);
  if (o.ceil_mode()) s += ", ceil_mode=True";
  if (!o.count_include_pad()) s += ", count_include_pad=False";
  return s;
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& x) { return adaptive_avg_pool2d(x, options.output_size()); }

}  // namespace wick::nn
