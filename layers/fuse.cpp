// The fusion passes and fold_batchnorm (layers/bn_tools.h): one walk over every container's layer
// list, with a rule per rewrite; the fused layers' forwards.
#include "layers/fuse.h"

#include <functional>
#include <typeinfo>

#include "core/autograd.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/pool.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/bn_tools.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/pooling.h"

namespace wick::nn {
namespace {

// Exact types only: a subclass may compute something else.
template <typename Impl>
Impl* exactly(const std::shared_ptr<Module>& m) {
  Module* raw = m.get();
  return raw && typeid(*raw) == typeid(Impl) ? static_cast<Impl*>(raw) : nullptr;
}

// A container's layer list as the passes see it.
struct Layers {
  std::function<size_t()> size;
  std::function<std::shared_ptr<Module>(size_t)> get;
  std::function<void(size_t, std::shared_ptr<Module>)> set;
};

template <typename List>
Layers layers_of(List& list) {
  return {[&list] { return list.size(); }, [&list](size_t i) { return list[i]; },
          [&list](size_t i, std::shared_ptr<Module> m) { list.set(i, std::move(m)); }};
}

// The next layer after i that is not an Identity (a slot a fusion emptied), or size().
size_t next_layer(const Layers& l, size_t i) {
  size_t j = i + 1;
  while (j < l.size() && exactly<IdentityImpl>(l.get(j))) ++j;
  return j;
}

// Applies `rule` at every position of every container's list, innermost containers first (so a
// Residual's body is rewritten before the Residual itself is looked at). A rule returns how many
// rewrites it made at position i of list l.
int rewrite(Module& model, const std::function<int(const Layers&, size_t)>& rule) {
  auto modules = model.named_modules();
  int n = 0;
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
    Module* m = it->second.get();
    std::optional<Layers> l;
    if (auto* seq = dynamic_cast<SequentialImpl*>(m)) l = layers_of(*seq);
    else if (auto* res = dynamic_cast<ResidualImpl*>(m)) l = layers_of(*res);
    if (!l) continue;
    for (size_t i = 0; i < l->size(); ++i) n += rule(*l, i);
  }
  return n;
}

// A BatchNorm that normalizes with its running statistics in eval mode (so it can be folded).
BatchNormImplBase* runs_on_statistics(const std::shared_ptr<Module>& m) {
  auto* bn = dynamic_cast<BatchNormImplBase*>(m.get());
  return bn && bn->running_mean.defined() && bn->mode() != BatchNormMode::BatchStats ? bn : nullptr;
}
bool ends_in_relu(const BatchNormImplBase& bn) {
  return dynamic_cast<const BatchNorm1dReLUImpl*>(&bn) || dynamic_cast<const BatchNorm2dReLUImpl*>(&bn);
}

}  // namespace

void fold_into(const Tensor& weight, const Tensor& bias, Tensor& out_weight, Tensor& out_bias,
               BatchNormImplBase& bn) {
  std::vector<double> scale, shift;
  WICK_CHECK(bn.running_affine(scale, shift), "fold_batchnorm: ", bn.type_name(), " uses batch statistics");
  const int64_t o = weight.size(0), per = weight.numel() / o;
  Tensor w = weight.contiguous();
  const float* pw = w.data<float>();
  float *ow = out_weight.data<float>(), *ob = out_bias.data<float>();
  for (int64_t c = 0; c < o; ++c) {
    for (int64_t k = 0; k < per; ++k) ow[c * per + k] = static_cast<float>(pw[c * per + k] * scale[c]);
    const double b = bias.defined() ? bias.data<float>()[c] : 0.0;
    ob[c] = static_cast<float>(b * scale[c] + shift[c]);
  }
  out_weight.bump_version();
  out_bias.bump_version();
}

namespace {

// Conv2d + BatchNorm2d or Linear + BatchNorm1d (either maybe with its ReLU fused) at i: the
// layer with the BN folded in, and in the BN's slot an Identity (or the ReLU it had fused).
int fold_rule(const Layers& l, size_t i) {
  const size_t j = next_layer(l, i);
  if (j >= l.size() || j != i + 1) return 0;
  BatchNormImplBase* bn = runs_on_statistics(l.get(j));
  if (!bn) return 0;
  std::shared_ptr<Module> folded;
  init::SkipInit skip;  // the folded tensors are written below
  if (auto* conv = exactly<Conv2dImpl>(l.get(i)); conv && dynamic_cast<BatchNorm2dImpl*>(bn) &&
                                                   conv->options.out_channels() == bn->options.num_features()) {
    auto out = std::make_shared<Conv2dImpl>(Conv2dOptions(conv->options).bias(true));
    fold_into(conv->weight, conv->bias, out->weight, out->bias, *bn);
    folded = out;
  } else if (auto* lin = exactly<LinearImpl>(l.get(i)); lin && dynamic_cast<BatchNorm1dImpl*>(bn) &&
                                                        lin->options.out_features() == bn->options.num_features()) {
    auto out = std::make_shared<LinearImpl>(LinearOptions(lin->options).bias(true));
    fold_into(lin->weight, lin->bias, out->weight, out->bias, *bn);
    folded = out;
  } else {
    return 0;
  }
  std::shared_ptr<Module> rest = ends_in_relu(*bn) ? std::shared_ptr<Module>(std::make_shared<ReLUImpl>())
                                                   : std::make_shared<IdentityImpl>();
  l.set(i, folded);
  l.set(j, rest);
  return 1;
}

template <typename Fused, typename Plain>
bool fuse_bn_relu_at(const Layers& l, size_t i) {
  auto* bn = exactly<Plain>(l.get(i));
  if (!bn || i + 1 >= l.size() || !exactly<ReLUImpl>(l.get(i + 1))) return false;
  init::SkipInit skip;  // its tensors are the BatchNorm's
  auto fused = std::make_shared<Fused>(bn->options);
  fused->share_state_of(*bn);
  l.set(i, fused);
  l.set(i + 1, std::make_shared<IdentityImpl>());
  return true;
}

int bn_relu_rule(const Layers& l, size_t i) {
  return fuse_bn_relu_at<BatchNorm2dReLUImpl, BatchNorm2dImpl>(l, i) ||
         fuse_bn_relu_at<BatchNorm1dReLUImpl, BatchNorm1dImpl>(l, i);
}

template <typename Plain, typename Fused>
bool unfuse_bn_relu_at(const Layers& l, size_t i) {
  auto* fused = exactly<Fused>(l.get(i));
  if (!fused) return false;
  init::SkipInit skip;
  auto bn = std::make_shared<Plain>(fused->options);
  bn->share_state_of(*fused);
  l.set(i, bn);
  if (i + 1 < l.size() && exactly<IdentityImpl>(l.get(i + 1))) l.set(i + 1, std::make_shared<ReLUImpl>());
  else detail::fail("unfuse_batchnorm_relu: the ", fused->type_name(), " at ", i,
                    " has no Identity after it to put its ReLU back in");
  return true;
}

int bn_relu_unfuse_rule(const Layers& l, size_t i) {
  return unfuse_bn_relu_at<BatchNorm2dImpl, BatchNorm2dReLUImpl>(l, i) ||
         unfuse_bn_relu_at<BatchNorm1dImpl, BatchNorm1dReLUImpl>(l, i);
}

// A FusedConv2d with conv's tensors (shared) and options.
std::shared_ptr<FusedConv2dImpl> fused_conv(const Conv2dImpl& conv, bool relu, bool pool = false) {
  init::SkipInit skip;
  auto out = std::make_shared<FusedConv2dImpl>(FusedConv2dOptions(conv.options, relu, pool));
  out->weight = out->reset_tensor("weight", conv.weight);
  if (conv.bias.defined()) out->bias = out->reset_tensor("bias", conv.bias);
  out->train(conv.is_training());
  return out;
}

// Conv2d then ReLU (past emptied slots): a FusedConv2d with the ReLU, an Identity for the ReLU.
int conv_relu_rule(const Layers& l, size_t i) {
  auto* conv = exactly<Conv2dImpl>(l.get(i));
  const size_t j = next_layer(l, i);
  if (!conv || j >= l.size() || !exactly<ReLUImpl>(l.get(j))) return 0;
  l.set(i, fused_conv(*conv, true));
  l.set(j, std::make_shared<IdentityImpl>());
  return 1;
}

// A FusedConv2d with its ReLU and no pooling yet, then (past emptied slots) a MaxPool2d(2): the
// pooling joins the conv's pass, an Identity takes the MaxPool2d's slot.
int conv_pool_rule(const Layers& l, size_t i) {
  auto* conv = exactly<FusedConv2dImpl>(l.get(i));
  const size_t j = next_layer(l, i);
  if (!conv || !conv->relu() || conv->pool() || j >= l.size()) return 0;
  auto* pool = exactly<MaxPool2dImpl>(l.get(j));
  if (!pool) return 0;
  const MaxPool2dOptions& p = pool->options;
  const Size2 stride = p.stride() == Size2(0) ? p.kernel_size() : p.stride();  // 0: the kernel size
  if (!(p.kernel_size() == Size2(2) && stride == Size2(2) && p.padding() == Size2(0) && p.dilation() == Size2(1)) ||
      p.ceil_mode())
    return 0;
  l.set(i, fused_conv(*conv, true, true));
  l.set(j, std::make_shared<IdentityImpl>());
  return 1;
}

// A Residual whose body's last real layer is a plain conv, with a ReLU activation or none.
int residual_rule(const Layers& l, size_t i) {
  auto* res = exactly<ResidualImpl>(l.get(i));
  if (!res) return 0;
  auto act = res->activation();
  if (act && !exactly<ReLUImpl>(act)) return 0;
  ResidualOptions o = res->config();
  size_t tail = o.layers.size();
  while (tail > 0 && exactly<IdentityImpl>(o.layers[tail - 1].second)) --tail;
  if (tail == 0) return 0;
  auto* conv = exactly<Conv2dImpl>(o.layers[tail - 1].second);
  if (!conv) return 0;
  o.layers[tail - 1].second = fused_conv(*conv, act != nullptr);
  o.activation = nullptr;
  auto fused = std::make_shared<FusedResidualImpl>(o);
  fused->train(res->is_training());
  l.set(i, fused);
  return 1;
}

}  // namespace

int fuse_batchnorm_relu(Module& model) { return rewrite(model, bn_relu_rule); }
int unfuse_batchnorm_relu(Module& model) { return rewrite(model, bn_relu_unfuse_rule); }

std::shared_ptr<Module> fold_batchnorm(const Module& model, int* folded) {
  std::shared_ptr<Module> out = model.clone();
  out->eval();
  int n = rewrite(*out, fold_rule);
  if (folded) *folded = n;
  return out;
}

std::shared_ptr<Module> fuse_for_inference(const Module& model, int* fused) {
  int n = 0;
  std::shared_ptr<Module> out = fold_batchnorm(model, &n);
  n += rewrite(*out, conv_relu_rule);
  n += rewrite(*out, conv_pool_rule);
  n += rewrite(*out, bn_relu_rule);
  n += rewrite(*out, residual_rule);
  if (fused) *fused = n;
  return out;
}

Tensor FusedConv2dImpl::forward(const Tensor& x) {
  const auto& o = options;
  if (should_record({&x, &weight, &bias})) {
    Tensor y = Conv2dImpl::forward(x);
    if (relu_) y = wick::relu(y);
    return pool_ ? max_pool2d(y, {2, 2}) : y;
  }
  return conv2d_affine(x, weight, bias, {}, {}, relu_, o.stride(), o.padding(), o.dilation(), o.groups(), Tensor(),
                       pool_, packed_weight());
}

Tensor FusedConv2dImpl::packed_weight() {
  std::lock_guard<std::mutex> lock(packed_mutex_);
  const std::shared_ptr<Storage>& storage = weight.impl()->storage;
  if (packed_from_ != storage || packed_data_ != weight.data<float>() || packed_version_ != storage->version) {
    packed_ = pack_conv2d_weight(weight, options.stride(), options.padding(), options.dilation(), options.groups());
    packed_from_ = storage, packed_data_ = weight.data<float>(), packed_version_ = storage->version;
  }
  return packed_;
}

Tensor FusedConv2dImpl::forward_add(const Tensor& x, const Tensor& r) {
  const auto& o = options;
  WICK_CHECK(!pool_, "FusedConv2d: a conv that pools cannot end a residual block (forward_add)");
  if (should_record({&x, &weight, &bias, &r})) {
    Tensor y = add(Conv2dImpl::forward(x), r);
    return relu_ ? wick::relu(y) : y;
  }
  return conv2d_affine(x, weight, bias, {}, {}, relu_, o.stride(), o.padding(), o.dilation(), o.groups(), r, false,
                       packed_weight());
}

std::string FusedConv2dImpl::extra_repr() const {
  return Conv2dImpl::extra_repr() + (relu_ ? ", relu=True" : "") + (pool_ ? ", pool=True" : "");
}

FusedResidualImpl::FusedResidualImpl(const ResidualOptions& options) : ResidualImpl(options) {
  WICK_CHECK(options.activation == nullptr, "FusedResidual: the activation belongs to the last conv (relu=true)");
  tail_ = size();
  while (tail_ > 0 && exactly<IdentityImpl>((*this)[tail_ - 1])) --tail_;
  WICK_CHECK(tail_ > 0 && dynamic_cast<FusedConv2dImpl*>((*this)[tail_ - 1].get()),
             "FusedResidual: the body must end in a FusedConv2d (then only Identity layers)");
  --tail_;
}

Tensor FusedResidualImpl::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < tail_; ++i) h = (*this)[i]->forward(h);
  auto s = shortcut();
  return static_cast<FusedConv2dImpl&>(*(*this)[tail_]).forward_add(h, s ? s->forward(x) : x);
}

}  // namespace wick::nn
