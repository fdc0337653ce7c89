// optim::Adam and optim::AdamW (decoupled weight decay), with AMSGrad, matching PyTorch 1.13's
// single-tensor implementations step for step.
#pragma once
#include <tuple>

#include "../core/options.h"
#include "optimizer.h"

namespace wick::optim {

using Betas = std::tuple<double, double>;  // (beta1, beta2)

// Adam's and AdamW's options: the same fields, with PyTorch's defaults (AdamW's weight decay is
// 1e-2, Adam's 0). Every option is read at each step(), so changing it (for a group) takes effect at
// the next step; switching amsgrad on later starts its running maximum from zero.
template <bool Decoupled>
struct AdamFamilyOptions : OptimizerOptions {
  explicit AdamFamilyOptions(double lr = 1e-3) : lr_(lr), weight_decay_(Decoupled ? 1e-2 : 0.0) {}
  WICK_ARG(double, lr);
  WICK_ARG(Betas, betas) = std::make_tuple(0.9, 0.999);
  WICK_ARG(double, eps) = 1e-8;
  WICK_ARG(double, weight_decay);
  WICK_ARG(bool, amsgrad) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<AdamFamilyOptions>(*this); }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  double get_momentum() const override { return std::get<0>(betas_); }
  void set_momentum(double beta1) override { std::get<0>(betas_) = beta1; }
  std::vector<std::pair<std::string, double>> hyperparameters() const override;
  void set_hyperparameter(const std::string& name, double value) override;
  // lr, eps, weight_decay >= 0; both betas in [0, 1).
  void validate(const std::string& op) const override;
};
using AdamOptions = AdamFamilyOptions<false>;
using AdamWOptions = AdamFamilyOptions<true>;

// For each parameter with a gradient g, at its step t = 1, 2, ... (PyTorch 1.13):
//   g = g + weight_decay * p                  (Adam)   |   p = p * (1 - lr * weight_decay)   (AdamW)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
//   v_max = max(v_max, v) with amsgrad, and v_max replaces v below
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps;   p = p - (lr / (1 - beta1^t)) * m / denom
// State per parameter: "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with amsgrad.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& defaults = AdamOptions());
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = AdamOptions());
  void step() override;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = AdamWOptions());
  void step() override;
};

}  // namespace wick::optim
