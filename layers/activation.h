// Activation layers and Dropout: thin modules over the functional ops.
#pragma once
#include "layers/module.h"
#include "layers/options.h"

namespace wick::nn {

class ReLUImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};
WICK_MODULE(ReLU);

// negative_slope is read at every forward.
struct LeakyReLUOptions {
  WICK_ARG(double, negative_slope) = 0.01;
};
class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  LeakyReLUOptions options;
};
WICK_MODULE(LeakyReLU);

class SigmoidImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};
WICK_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Tanh"; }
};
WICK_MODULE(Tanh);

// p is read at every forward. Active only in training mode.
struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: Dropout(0.2) reads naturally
  WICK_ARG(double, p);
};
class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(const DropoutOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  DropoutOptions options;
};
WICK_MODULE(Dropout);

}  // namespace wick::nn
