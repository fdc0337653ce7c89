// Activation layers and Dropout.
#include "layers/activation.h"

#include <sstream>

#include "core/ops/elementwise.h"
#include "core/ops/dropout.h"

namespace wick::nn {

namespace {
std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

Tensor ReLUImpl::forward(const Tensor& x) { return relu(x); }
Tensor LeakyReLUImpl::forward(const Tensor& x) { return leaky_relu(x, options.negative_slope()); }
std::string LeakyReLUImpl::extra_repr() const { return "negative_slope=" + number(options.negative_slope()); }
Tensor SigmoidImpl::forward(const Tensor& x) { return sigmoid(x); }
Tensor TanhImpl::forward(const Tensor& x) { return tanh(x); }

DropoutImpl::DropoutImpl(const DropoutOptions& options) : options(options) {
  WICK_CHECK(options.p() >= 0.0 && options.p() <= 1.0, "Dropout: p must be in [0, 1], got ", options.p());
}
Tensor DropoutImpl::forward(const Tensor& x) { return dropout(x, options.p(), is_training()); }
std::string DropoutImpl::extra_repr() const { return "p=" + number(options.p()) + ", inplace=False"; }

}  // namespace wick::nn
