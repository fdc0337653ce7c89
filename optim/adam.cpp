// Adam and AdamW: options, validation, and the fused update loop they share.
#include "optim/adam.h"

#include <cmath>

#include "core/autograd.h"
#include "core/parallel.h"

namespace wick::optim {
namespace {

// The scalars of one Adam step, computed in double and rounded to float as PyTorch does.
struct AdamStep {
  float decay_mul;    // AdamW: p *= 1 - lr * wd (1 for Adam)
  float wd;           // Adam: g += wd * p (0 for AdamW)
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bc2_sqrt;     // sqrt(1 - beta2^t)
  float neg_step_size;  // -lr / (1 - beta1^t)
  float eps;
};

// p, g, m, v, vmax (n; vmax null without amsgrad): one Adam/AdamW update. The roundings follow
// PyTorch's CPU kernels: add_/addcmul_ with a scalar are fused multiply-adds there, addcdiv_ is
// p + (value * m) / denom, the bias correction divides sqrt(v) by sqrt(1 - beta2^t).
void adam_update(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamStep& s) {
  parallel_for(0, n, detail::kOptimGrain, [=, &s](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (s.decay_mul != 1.f) p[i] *= s.decay_mul;
      const float gi = s.wd != 0.f ? std::fma(s.wd, p[i], g[i]) : g[i];
      m[i] = std::fma(s.one_minus_beta1, gi, m[i] * s.beta1);
      v[i] = std::fma(s.one_minus_beta2 * gi, gi, v[i] * s.beta2);
      float second = v[i];
      if (vmax) {
        if (!(vmax[i] >= v[i]) && !std::isnan(vmax[i])) vmax[i] = v[i];  // torch.maximum keeps NaN
        second = vmax[i];
      }
      const float denom = std::sqrt(second) / s.bc2_sqrt + s.eps;
      p[i] = p[i] + (s.neg_step_size * m[i]) / denom;
    }
  });
}

// The step loop Adam and AdamW share; `decoupled` picks AdamW's weight decay.
template <typename O>
void adam_step(Optimizer& opt, bool decoupled) {
  NoGradGuard no_grad;
  for (auto& group : opt.param_groups()) {
    const O& o = group.template options_as<O>();
    const double lr = o.lr(), wd = o.weight_decay();
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (const Tensor& p : group.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      grad = grad.contiguous();
      ParamState& st = opt.state(p);
      float* m = st.get_or_zeros("exp_avg", p.shape()).data<float>();
      float* v = st.get_or_zeros("exp_avg_sq", p.shape()).data<float>();
      float* vmax = o.amsgrad() ? st.get_or_zeros("max_exp_avg_sq", p.shape()).data<float>() : nullptr;
      const double t = double(++st.step);
      const double bc1 = 1.0 - std::pow(beta1, t), bc2 = 1.0 - std::pow(beta2, t);
      AdamStep s;
      s.decay_mul = decoupled ? float(1.0 - lr * wd) : 1.f;
      s.wd = decoupled ? 0.f : float(wd);
      s.beta1 = float(beta1);
      s.one_minus_beta1 = float(1.0 - beta1);
      s.beta2 = float(beta2);
      s.one_minus_beta2 = float(1.0 - beta2);
      s.bc2_sqrt = float(std::sqrt(bc2));
      s.neg_step_size = float(-(lr / bc1));
      s.eps = float(o.eps());
      adam_update(p.data<float>(), grad.data<float>(), m, v, vmax, p.numel(), s);
      p.bump_version();
    }
  }
}

}  // namespace

template <bool Decoupled>
std::vector<std::pair<std::string, double>> AdamFamilyOptions<Decoupled>::hyperparameters() const {
  return {{"lr", lr()},
          {"beta1", std::get<0>(betas())},
          {"beta2", std::get<1>(betas())},
          {"eps", eps()},
          {"weight_decay", weight_decay()},
          {"amsgrad", amsgrad() ? 1.0 : 0.0}};
}

template <bool Decoupled>
void AdamFamilyOptions<Decoupled>::set_hyperparameter(const std::string& name, double value) {
  auto b = betas();
  if (name == "lr") lr(value);
  else if (name == "beta1") betas(std::make_tuple(value, std::get<1>(b)));
  else if (name == "beta2") betas(std::make_tuple(std::get<0>(b), value));
  else if (name == "eps") eps(value);
  else if (name == "weight_decay") weight_decay(value);
  else if (name == "amsgrad") amsgrad(value != 0.0);
  else ::wick::detail::fail(Decoupled ? "AdamWOptions" : "AdamOptions", ": unknown hyperparameter \"", name, "\"");
}

template <bool Decoupled>
void AdamFamilyOptions<Decoupled>::validate(const std::string& op) const {
  detail::check_hyper(op, "learning rate", lr());
  detail::check_hyper(op, "epsilon", eps());
  detail::check_hyper(op, "beta parameter at index 0", std::get<0>(betas()), true);
  detail::check_hyper(op, "beta parameter at index 1", std::get<1>(betas()), true);
  detail::check_hyper(op, "weight_decay", weight_decay());
}

template struct AdamFamilyOptions<false>;
template struct AdamFamilyOptions<true>;

Adam::Adam(std::vector<Tensor> params, const AdamOptions& defaults)
    : Optimizer("Adam", std::move(params), defaults.clone()) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Optimizer("Adam", std::move(groups), defaults.clone()) {}
void Adam::step() { adam_step<AdamOptions>(*this, false); }

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& defaults)
    : Optimizer("AdamW", std::move(params), defaults.clone()) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Optimizer("AdamW", std::move(groups), defaults.clone()) {}
void AdamW::step() { adam_step<AdamWOptions>(*this, true); }

}  // namespace wick::optim
