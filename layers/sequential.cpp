// nn::Sequential: indexing and the forward chain, which fuses common runs of layers: Conv2d +
// BatchNorm2d (+ ReLU), or Conv2d + ReLU, into one conv when BN uses its running statistics and
// no gradient is recorded (inference), and BatchNorm + ReLU into one op otherwise.
#include "layers/sequential.h"

#include <typeinfo>

#include "core/autograd.h"
#include "core/ops/conv.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"

namespace wick::nn {

namespace {

// Exact types only: a subclass may have its own forward.
template <typename Impl>
bool is_exactly(const Module& m) {
  return typeid(m) == typeid(Impl);
}

}  // namespace

std::shared_ptr<Module> SequentialImpl::operator[](size_t i) const {
  WICK_CHECK(i < size(), "Sequential: index ", i, " is out of range for ", size(), " modules");
  return named_children()[i].second;
}

// Conv2d followed by BatchNorm2d (and maybe ReLU), or by ReLU alone (a model whose BN was folded),
// at children[i...] as one conv2d_affine, when that is what they would compute: inference (no
// graph), BN on its running statistics, shapes that the unfused layers accept. Returns how many
// children it ran (0: not fusable).
size_t SequentialImpl::try_fused_conv(size_t i, Tensor& h) const {
  const auto& children = named_children();
  if (i + 1 >= children.size() || !is_exactly<Conv2dImpl>(*children[i].second) || h.dim() != 4) return 0;
  auto& conv = static_cast<Conv2dImpl&>(*children[i].second);
  const Module& next = *children[i + 1].second;
  const bool has_bn = is_exactly<BatchNorm2dImpl>(next);
  if (!has_bn && !is_exactly<ReLUImpl>(next)) return 0;
  if (should_record({&h, &conv.weight, &conv.bias})) return 0;
  std::vector<double> scale(conv.options.out_channels(), 1.0), shift(conv.options.out_channels(), 0.0);
  if (has_bn) {
    auto& bn = static_cast<BatchNorm2dImpl&>(*children[i + 1].second);
    if (should_record({&bn.weight, &bn.bias}) || bn.options.num_features() != conv.options.out_channels() ||
        !bn.running_affine(scale, shift))
      return 0;
  }
  const bool relu = !has_bn || (i + 2 < children.size() && is_exactly<ReLUImpl>(*children[i + 2].second));
  const auto& o = conv.options;
  h = conv2d_affine(h, conv.weight, conv.bias, scale, shift, relu, o.stride(), o.padding(), o.dilation(), o.groups());
  return has_bn ? (relu ? 3 : 2) : 2;
}

size_t SequentialImpl::forward_step(size_t i, Tensor& h) const {
  if (size_t ran = try_fused_conv(i, h)) return ran;
  const auto& children = named_children();
  Module& m = *children.at(i).second;
  if ((is_exactly<BatchNorm2dImpl>(m) || is_exactly<BatchNorm1dImpl>(m)) && i + 1 < children.size() &&
      is_exactly<ReLUImpl>(*children[i + 1].second)) {
    h = static_cast<BatchNormImplBase&>(m).forward_relu(h);
    return 2;
  }
  h = m.forward(h);
  return 1;
}

Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < size();) i += forward_step(i, h);
  return h;
}

}  // namespace wick::nn
