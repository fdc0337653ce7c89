// optim::SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight
// decay, in PyTorch's exact update order.
#pragma once
#include "../core/options.h"
#include "optimizer.h"

namespace wick::optim {

// Every option is read at each step(), so changing it (for a group) takes effect at the next step.
// Defaults are PyTorch's: no momentum, no dampening, no Nesterov, no weight decay.
struct SGDOptions : OptimizerOptions {
  explicit SGDOptions(double lr) : lr_(lr) {}
  WICK_ARG(double, lr);
  WICK_ARG(double, momentum) = 0.0;
  WICK_ARG(double, dampening) = 0.0;
  WICK_ARG(double, weight_decay) = 0.0;
  WICK_ARG(bool, nesterov) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override { return std::make_unique<SGDOptions>(*this); }
  double get_lr() const override { return lr_; }
  void set_lr(double lr) override { lr_ = lr; }
  double get_momentum() const override { return momentum_; }
  void set_momentum(double momentum) override { momentum_ = momentum; }
  std::vector<std::pair<std::string, double>> hyperparameters() const override;
  void set_hyperparameter(const std::string& name, double value) override;
  // lr, momentum, weight_decay >= 0 (dampening is free, as in PyTorch); nesterov needs
  // momentum > 0 and dampening 0.
  void validate(const std::string& op) const override;
};

// For each parameter with a gradient g (PyTorch 1.13's single-tensor SGD):
//   d = g + weight_decay * p
//   buf = d on the first step, else momentum * buf + (1 - dampening) * d     (if momentum != 0)
//   d = d + momentum * buf if nesterov, else d = buf                           (if momentum != 0)
//   p -= lr * d
// State per parameter: "momentum_buffer" (only when momentum != 0).
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults);
  void step() override;
};

}  // namespace wick::optim
