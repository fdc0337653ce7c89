// SGD: options, validation, and the fused update loop.
#include "optim/sgd.h"

#include <cmath>

#include "core/autograd.h"
#include "core/parallel.h"

namespace wick::optim {

std::vector<std::pair<std::string, double>> SGDOptions::hyperparameters() const {
  return {{"lr", lr_}, {"momentum", momentum_}, {"dampening", dampening_}, {"weight_decay", weight_decay_},
          {"nesterov", nesterov_ ? 1.0 : 0.0}};
}

void SGDOptions::set_hyperparameter(const std::string& name, double value) {
  if (name == "lr") lr_ = value;
  else if (name == "momentum") momentum_ = value;
  else if (name == "dampening") dampening_ = value;
  else if (name == "weight_decay") weight_decay_ = value;
  else if (name == "nesterov") nesterov_ = value != 0.0;
  else ::wick::detail::fail("SGDOptions: unknown hyperparameter \"", name, "\"");
}

void SGDOptions::validate(const std::string& op) const {
  detail::check_hyper(op, "learning rate", lr_);
  detail::check_hyper(op, "momentum", momentum_);
  WICK_CHECK(std::isfinite(dampening_), op, ": invalid dampening ", dampening_, " (expected a finite value)");
  detail::check_hyper(op, "weight_decay", weight_decay_);
  WICK_CHECK(!nesterov_ || (momentum_ > 0.0 && dampening_ == 0.0), op,
             ": Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ", momentum_,
             ", dampening ", dampening_, ")");
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : Optimizer("SGD", std::move(params), defaults.clone()) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults)
    : Optimizer("SGD", std::move(groups), defaults.clone()) {}

namespace {

// p, g, buf (n): one SGD update in PyTorch's order and roundings (add with alpha is a fused
// multiply-add there, so it is here). buf is null without momentum; `first` fills it with d.
void sgd_update(float* p, const float* g, float* buf, bool first, int64_t n, float lr, float momentum,
                float one_minus_dampening, float weight_decay, bool nesterov) {
  parallel_for(0, n, detail::kOptimGrain, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float d = weight_decay != 0.f ? std::fma(weight_decay, p[i], g[i]) : g[i];
      if (buf) {
        buf[i] = first ? d : std::fma(one_minus_dampening, d, buf[i] * momentum);
        d = nesterov ? std::fma(momentum, buf[i], d) : buf[i];
      }
      p[i] = std::fma(-lr, d, p[i]);
    }
  });
}

}  // namespace

void SGD::step() {
  NoGradGuard no_grad;
  for (auto& group : param_groups()) {
    const SGDOptions& o = group.options_as<SGDOptions>();
    for (const Tensor& p : group.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      grad = grad.contiguous();
      ParamState& st = state(p);
      float* buf = nullptr;
      bool first = false;
      if (o.momentum() != 0.0) {
        first = !st.has("momentum_buffer");
        buf = st.get_or_zeros("momentum_buffer", p.shape()).data<float>();
      }
      sgd_update(p.data<float>(), grad.data<float>(), buf, first, p.numel(), float(o.lr()), float(o.momentum()),
                 float(1.0 - o.dampening()), float(o.weight_decay()), o.nesterov());
      ++st.step;
      p.bump_version();
    }
  }
}

}  // namespace wick::optim
