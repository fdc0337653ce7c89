// Affine and shape layers: Linear, Flatten, Identity.
#pragma once
#include "layers/module.h"
#include "layers/options.h"

namespace wick::nn {

// Options are read when the layer is built: changing them afterwards has no effect.
struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  WICK_ARG(int64_t, in_features);
  WICK_ARG(int64_t, out_features);
  WICK_ARG(bool, bias) = true;
};

// y = x Wᵀ + b; weight (out, in) and bias (out) start as PyTorch's: U(-1/sqrt(in), 1/sqrt(in)).
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);
  void reset_parameters();
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  const LinearOptions options;
  Tensor weight, bias;  // bias undefined when options.bias() is false
};
WICK_MODULE(Linear);

// Flattens dims start_dim..end_dim (options read at every forward).
struct FlattenOptions {
  WICK_ARG(int64_t, start_dim) = 1;
  WICK_ARG(int64_t, end_dim) = -1;
};

class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {}) : options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  FlattenOptions options;
};
WICK_MODULE(Flatten);

class IdentityImpl : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};
WICK_MODULE(Identity);

}  // namespace wick::nn
