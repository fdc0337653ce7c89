// nn::Conv2d: parameters, PyTorch's default initialization, forward through conv2d.
#include "layers/conv.h"

#include <cmath>

#include "core/ops/conv.h"
#include "layers/init.h"

namespace wick::nn {

Conv2dImpl::Conv2dImpl(const Conv2dOptions& options) : options(options) {
  const auto& o = options;
  WICK_CHECK(o.in_channels() > 0 && o.out_channels() > 0 && o.groups() > 0, "Conv2d: channels and groups must be ",
             "positive, got in_channels=", o.in_channels(), " out_channels=", o.out_channels(), " groups=", o.groups());
  WICK_CHECK(o.in_channels() % o.groups() == 0 && o.out_channels() % o.groups() == 0, "Conv2d: groups=", o.groups(),
             " must divide in_channels=", o.in_channels(), " and out_channels=", o.out_channels());
  WICK_CHECK(o.kernel_size()[0] > 0 && o.kernel_size()[1] > 0, "Conv2d: kernel_size must be positive, got ",
             o.kernel_size().str());
  weight = register_parameter("weight", empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size()[0],
                                               o.kernel_size()[1]}));
  if (o.bias()) bias = register_parameter("bias", empty({o.out_channels()}));
  reset_parameters();
}

void Conv2dOptions::fields(Fields& f) {
  f.required("in_channels", in_channels_, Check::Positive);
  f.required("out_channels", out_channels_, Check::Positive);
  f.required("kernel_size", kernel_size_, Check::Positive);
  f.optional("stride", stride_, Check::Positive);
  f.optional("padding", padding_, Check::NonNegative);
  f.optional("dilation", dilation_, Check::Positive);
  f.optional("groups", groups_, Check::Positive);
  f.optional("bias", bias_);
}

void Conv2dImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2dImpl::forward(const Tensor& x) {
  return conv2d(x, weight, bias, options.stride(), options.padding(), options.dilation(), options.groups());
}

std::string Conv2dImpl::extra_repr() const {
  const auto& o = options;
  std::string s = std::to_string(o.in_channels()) + ", " + std::to_string(o.out_channels()) +
                  ", kernel_size=" + o.kernel_size().str() + ", stride=" + o.stride().str();
  if (o.padding() != Size2(0)) s += ", padding=" + o.padding().str();
  if (o.dilation() != Size2(1)) s += ", dilation=" + o.dilation().str();
  if (o.groups() != 1) s += ", groups=" + std::to_string(o.groups());
  if (!o.bias()) s += ", bias=False";
  return s;
}

}  // namespace wick::nn
