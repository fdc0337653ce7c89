// Linear, Flatten and Identity.
#include "layers/linear.h"

#include <cmath>

#include "core/ops/elementwise.h"
#include "core/ops/linalg.h"
#include "layers/init.h"

namespace wick::nn {

LinearImpl::LinearImpl(const LinearOptions& options) : options(options) {
  WICK_CHECK(options.in_features() > 0 && options.out_features() > 0,
             "Linear: in_features and out_features must be positive, got ", options.in_features(), " and ",
             options.out_features());
  weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
  if (options.bias()) bias = register_parameter("bias", empty({options.out_features()}));
  reset_parameters();
}

void LinearOptions::fields(Fields& f) {
  f.required("in_features", in_features_, Check::Positive);
  f.required("out_features", out_features_, Check::Positive);
  f.optional("bias", bias_);
}

void LinearImpl::reset_parameters() {
  // PyTorch: kaiming_uniform_(a = sqrt(5)) gives bound 1/sqrt(fan_in); the bias uses the same bound.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor LinearImpl::forward(const Tensor& x) {
  WICK_CHECK(x.dim() >= 1 && x.size(-1) == options.in_features(), "Linear: expected input with last dim ",
             options.in_features(), " (in_features), got shape ", shape_str(x.shape()));
  return linear(x, weight, bias);
}

std::string LinearImpl::extra_repr() const {
  return "in_features=" + std::to_string(options.in_features()) +
         ", out_features=" + std::to_string(options.out_features()) + ", bias=" + (options.bias() ? "True" : "False");
}

void FlattenOptions::fields(Fields& f) {
  f.optional("start_dim", start_dim_);
  f.optional("end_dim", end_dim_);
}

Tensor FlattenImpl::forward(const Tensor& x) { return x.flatten(options.start_dim(), options.end_dim()); }

std::string FlattenImpl::extra_repr() const {
  return "start_dim=" + std::to_string(options.start_dim()) + ", end_dim=" + std::to_string(options.end_dim());
}

}  // namespace wick::nn
