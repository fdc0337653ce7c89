// Affine and shape layers: Linear, Flatten, Identity, and Functional (a function as a layer).
#pragma once
#include <functional>

#include "module.h"
#include "../core/options.h"
#include "registry.h"

namespace wick::nn {

// Options are read when the layer is built: changing them afterwards has no effect.
struct LinearOptions {
  LinearOptions() = default;  // for the registry: a description gives the required fields
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  WICK_ARG(int64_t, in_features) = 0;
  WICK_ARG(int64_t, out_features) = 0;
  WICK_ARG(bool, bias) = true;

 public:
  void fields(Fields& f);
};

// y = x Wᵀ + b; weight (out, in) and bias (out) start as PyTorch's: U(-1/sqrt(in), 1/sqrt(in)).
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);
  void reset_parameters();
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  const LinearOptions options;
  Tensor weight, bias;  // bias undefined when options.bias() is false
};
WICK_MODULE(Linear);
WICK_REGISTER_MODULE(Linear);

// Flattens dims start_dim..end_dim (options read at every forward).
struct FlattenOptions {
  WICK_ARG(int64_t, start_dim) = 1;
  WICK_ARG(int64_t, end_dim) = -1;

 public:
  void fields(Fields& f);
};

class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  FlattenOptions options;
};
WICK_MODULE(Flatten);
WICK_REGISTER_MODULE(Flatten);

class IdentityImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
};
WICK_MODULE(Identity);
WICK_REGISTER_MODULE(Identity);

// A function as a layer, as libtorch's nn::Functional: a step with no parameters inside a
// Sequential, e.g. nn::Functional([](const Tensor& x) { return x * 0.5; }). A function cannot be
// written to a file, so it has no registered config: a model holding one saves and loads its
// weights, and exports to ONNX (which traces the function), but clone() and saving its
// architecture are errors naming it.
class FunctionalImpl : public Module {
 public:
  using Function = std::function<Tensor(const Tensor&)>;
  explicit FunctionalImpl(Function f) : f_(std::move(f)) {}
  Tensor forward(const Tensor& x) override { return f_(x); }
  std::string type_name() const override { return "Functional"; }

 private:
  Function f_;
};
WICK_MODULE(Functional);

}  // namespace wick::nn
