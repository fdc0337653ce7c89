// GroupNorm and LayerNorm: option checks at construction, the parameters, and PyTorch's printout.
#include "layers/normalization.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/ops/group_norm.h"

namespace wick::nn {

void AffineNormBase::register_affine(const Shape& shape) {
  weight = register_parameter("weight", ones(shape));
  bias = register_parameter("bias", zeros(shape));
}

void AffineNormBase::reset_parameters() {
  if (!weight.defined()) return;
  NoGradGuard g;
  weight.fill_(1.0);
  bias.zero_();
}

void GroupNormOptions::fields(Fields& f) {
  f.required("num_groups", num_groups_, Check::Positive);
  f.required("num_channels", num_channels_, Check::Positive);
  f.optional("eps", eps_, Check::Positive);
  f.optional("affine", affine_);
}

GroupNormImpl::GroupNormImpl(const GroupNormOptions& options) : options(options) {
  const int64_t G = options.num_groups(), C = options.num_channels();
  WICK_CHECK(G > 0, "GroupNorm: num_groups must be positive, got ", G);
  WICK_CHECK(C > 0, "GroupNorm: num_channels must be positive, got ", C);
  WICK_CHECK(C % G == 0, "GroupNorm: num_channels (", C, ") must be divisible by num_groups (", G, ")");
  WICK_CHECK(std::isfinite(options.eps()) && options.eps() > 0, "GroupNorm: eps must be a positive finite number, got ",
             options.eps());
  if (options.affine()) register_affine({C});
}

Tensor GroupNormImpl::forward(const Tensor& x) {
  WICK_CHECK(x.dim() >= 2 && x.size(1) == options.num_channels(), "GroupNorm: expected input of shape (N, ",
             options.num_channels(), ", *) (num_channels ", options.num_channels(), "), got ", shape_str(x.shape()));
  return group_norm(x, options.num_groups(), weight, bias, options.eps());
}

std::string GroupNormImpl::extra_repr() const {
  std::ostringstream os;
  os << options.num_groups() << ", " << options.num_channels() << ", eps=" << options.eps()
     << ", affine=" << (weight.defined() ? "True" : "False");
  return os.str();
}

void LayerNormOptions::fields(Fields& f) {
  f.required("normalized_shape", normalized_shape_, Check::Positive);
  f.optional("eps", eps_, Check::Positive);
  f.optional("elementwise_affine", elementwise_affine_);
}

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options) : options(options) {
  const Shape& shape = options.normalized_shape();
  WICK_CHECK(!shape.empty(), "LayerNorm: normalized_shape must have at least one dim, got []");
  for (int64_t s : shape)
    WICK_CHECK(s > 0, "LayerNorm: normalized_shape must hold positive sizes, got ", shape_str(shape));
  WICK_CHECK(std::isfinite(options.eps()) && options.eps() > 0, "LayerNorm: eps must be a positive finite number, got ",
             options.eps());
  if (options.elementwise_affine()) register_affine(shape);
}

Tensor LayerNormImpl::forward(const Tensor& x) {
  return layer_norm(x, options.normalized_shape(), weight, bias, options.eps());
}

// PyTorch prints normalized_shape as a tuple: "(256,)", "(4, 5)".
std::string LayerNormImpl::extra_repr() const {
  std::ostringstream os;
  const Shape& shape = options.normalized_shape();
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << (shape.size() == 1 ? ",)" : ")") << ", eps=" << options.eps()
     << ", elementwise_affine=" << (weight.defined() ? "True" : "False");
  return os.str();
}

}  // namespace wick::nn
