// freeze / unfreeze, recalibrate (a cumulative average in a no-grad pass) and fold.
#include "layers/bn_tools.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "layers/architecture.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/mode_guard.h"
#include "layers/sequential.h"
#include "layers/serialize.h"

namespace wick::nn {

std::vector<std::pair<std::string, std::shared_ptr<BatchNormImplBase>>> batchnorm_layers(Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<BatchNormImplBase>>> out;
  for (auto& [name, m] : model.named_modules())
    if (auto bn = std::dynamic_pointer_cast<BatchNormImplBase>(m)) out.emplace_back(name, bn);
  return out;
}

int freeze_batchnorm(Module& model) {
  int n = 0;
  for (auto& [name, bn] : batchnorm_layers(model)) {
    bn->set_mode(BatchNormMode::Frozen);
    ++n;
  }
  return n;
}

int unfreeze_batchnorm(Module& model) {
  int n = 0;
  for (auto& [name, bn] : batchnorm_layers(model)) {
    bn->set_mode(BatchNormMode::Auto);
    ++n;
  }
  return n;
}

int64_t recalibrate_batchnorm(Module& model, const std::function<bool(Tensor&)>& next_batch, int64_t max_batches) {
  ModeGuard restore(model);
  auto bns = batchnorm_layers(model);
  model.eval();  // Dropout and everything else off
  for (auto& [name, bn] : bns) {
    if (!bn->options.track_running_stats()) continue;
    bn->set_mode(BatchNormMode::Auto);
    bn->reset_running_stats();
    bn->options.momentum(std::nullopt);  // cumulative average: every batch weighs the same
    bn->train(true);
  }
  NoGradGuard no_grad;
  int64_t used = 0;
  Tensor batch;
  while ((max_batches < 0 || used < max_batches) && next_batch(batch)) {
    model.forward(batch);
    ++used;
  }
  return used;
}

namespace {

// A fresh copy of a module: rebuilt from its printout, then given its tensors.
std::shared_ptr<Module> clone_module(const Module& m) {
  std::shared_ptr<Module> copy = module_from_repr(m.repr());
  auto src = state_dict(m), dst = state_dict(*copy);
  NoGradGuard g;
  for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
  return copy;
}

// Per-channel scale s = γ / sqrt(running_var + eps) and shift β − running_mean·s of an eval BN.
std::pair<Tensor, Tensor> bn_affine(const BatchNormImplBase& bn) {
  int64_t c = bn.options.num_features();
  std::vector<float> rm = bn.running_mean.to_vector<float>(), rv = bn.running_var.to_vector<float>();
  std::vector<float> g = bn.weight.defined() ? bn.weight.to_vector<float>() : std::vector<float>(c, 1.f);
  std::vector<float> b = bn.bias.defined() ? bn.bias.to_vector<float>() : std::vector<float>(c, 0.f);
  std::vector<float> scale(c), shift(c);
  for (int64_t i = 0; i < c; ++i) {
    double s = g[i] / std::sqrt(static_cast<double>(rv[i]) + bn.options.eps());
    scale[i] = static_cast<float>(s);
    shift[i] = static_cast<float>(b[i] - rm[i] * s);
  }
  return {from_vector(scale), from_vector(shift)};
}

// weight (O, ...) scaled per output channel; bias' = bias·s + shift (bias 0 when absent).
void fold_into(Tensor& weight, Tensor& bias, const Tensor* old_bias, const BatchNormImplBase& bn) {
  auto [scale, shift] = bn_affine(bn);
  Shape per_out(weight.dim(), 1);
  per_out[0] = weight.size(0);
  NoGradGuard g;
  weight.copy_(mul(weight, scale.view(per_out)));
  bias.copy_(old_bias ? add(mul(*old_bias, scale), shift) : shift);
}

bool foldable(const std::shared_ptr<Module>& layer, const std::shared_ptr<Module>& next) {
  auto bn = std::dynamic_pointer_cast<BatchNormImplBase>(next);
  if (!bn || !bn->options.track_running_stats() || bn->mode() == BatchNormMode::BatchStats) return false;
  if (auto conv = std::dynamic_pointer_cast<Conv2dImpl>(layer))
    return bn->type_name() == "BatchNorm2d" && conv->options.out_channels() == bn->options.num_features();
  if (auto lin = std::dynamic_pointer_cast<LinearImpl>(layer))
    return bn->type_name() == "BatchNorm1d" && lin->options.out_features() == bn->options.num_features();
  return false;
}

std::shared_ptr<Module> fold_layer(const std::shared_ptr<Module>& layer, const BatchNormImplBase& bn) {
  if (auto conv = std::dynamic_pointer_cast<Conv2dImpl>(layer)) {
    auto out = std::make_shared<Conv2dImpl>(Conv2dOptions(conv->options).bias(true));
    NoGradGuard g;
    out->weight.copy_(conv->weight);
    fold_into(out->weight, out->bias, conv->bias.defined() ? &conv->bias : nullptr, bn);
    return out;
  }
  auto lin = std::dynamic_pointer_cast<LinearImpl>(layer);
  auto out = std::make_shared<LinearImpl>(LinearOptions(lin->options).bias(true));
  NoGradGuard g;
  out->weight.copy_(lin->weight);
  fold_into(out->weight, out->bias, lin->bias.defined() ? &lin->bias : nullptr, bn);
  return out;
}

std::shared_ptr<Module> fold(const Module& m, int& folded) {
  auto seq = dynamic_cast<const SequentialImpl*>(&m);
  if (!seq) return clone_module(m);
  auto out = std::make_shared<SequentialImpl>();
  for (size_t i = 0; i < seq->size(); ++i) {
    std::shared_ptr<Module> child = (*seq)[i];
    if (i + 1 < seq->size() && foldable(child, (*seq)[i + 1])) {
      out->add(fold_layer(child, *std::dynamic_pointer_cast<BatchNormImplBase>((*seq)[i + 1])));
      ++folded;
      ++i;
    } else {
      out->add(fold(*child, folded));
    }
  }
  return out;
}

}  // namespace

std::shared_ptr<Module> fold_batchnorm(const Module& model, int* folded) {
  int n = 0;
  std::shared_ptr<Module> out = fold(model, n);
  out->eval();
  if (folded) *folded = n;
  return out;
}

}  // namespace wick::nn
