// Activation layers and Dropout: thin modules over the functional ops.
#pragma once
#include "module.h"
#include "../core/options.h"
#include "registry.h"

namespace wick::nn {

class ReLUImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
WICK_MODULE(ReLU);
WICK_REGISTER_MODULE(ReLU);

// negative_slope is read at every forward.
struct LeakyReLUOptions {
  WICK_ARG(double, negative_slope) = 0.01;

 public:
  void fields(Fields& f) { f.optional("negative_slope", negative_slope_); }
};
class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  LeakyReLUOptions options;
};
WICK_MODULE(LeakyReLU);
WICK_REGISTER_MODULE(LeakyReLU);

class SigmoidImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
WICK_MODULE(Sigmoid);
WICK_REGISTER_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};
WICK_MODULE(Tanh);
WICK_REGISTER_MODULE(Tanh);

// p is read at every forward. Active only in training mode.
struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: Dropout(0.2) reads naturally
  WICK_ARG(double, p);

 public:
  void fields(Fields& f) { f.optional("p", p_, Check::Unit); }
};
class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(const DropoutOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  DropoutOptions options;
};
WICK_MODULE(Dropout);
WICK_REGISTER_MODULE(Dropout);

}  // namespace wick::nn
