// Fusion passes: explicit rewrites of the layer lists inside containers (Sequential children, a
// Residual's body) into fused layers that compute the same values (to float rounding) in fewer
// passes over memory. Each fused layer takes the first slot of what it fuses and an Identity
// takes the others, so every other layer keeps its name (PyTorch's fuse_modules does the same).
// A user module's own forward is never rewritten; containers inside it are.
#pragma once
#include <memory>
#include <mutex>

#include "batchnorm.h"
#include "containers.h"
#include "conv.h"

namespace wick::nn {

// For training and inference: each BatchNorm1d/2d directly followed by a ReLU becomes a
// BatchNorm1dReLU/2dReLU sharing its tensors (so an optimizer built before keeps working), the
// ReLU an Identity. In place; returns how many pairs it fused. unfuse_batchnorm_relu undoes it.
int fuse_batchnorm_relu(Module& model);
int unfuse_batchnorm_relu(Module& model);

// Conv2d with its bias, an optional ReLU and an optional 2x2 max pooling (stride 2) in the same
// pass (what a Conv2d folded with its BatchNorm and followed by a ReLU, and maybe a MaxPool2d(2),
// becomes for inference). With no gradient recorded it runs conv2d_affine; otherwise plain
// conv2d, relu, max_pool2d.
struct FusedConv2dOptions : Conv2dOptions {
  FusedConv2dOptions() = default;
  FusedConv2dOptions(const Conv2dOptions& conv, bool relu, bool pool = false)
      : Conv2dOptions(conv), relu(relu), pool(pool) {}
  bool relu = false;
  bool pool = false;  // then max_pool2d(kernel 2, stride 2)
  void fields(Fields& f) {
    Conv2dOptions::fields(f);
    f.optional("relu", relu);
    f.optional("pool", pool);
  }
};
class FusedConv2dImpl : public Conv2dImpl {
 public:
  explicit FusedConv2dImpl(const FusedConv2dOptions& options)
      : Conv2dImpl(options), relu_(options.relu), pool_(options.pool) {}
  Tensor forward(const Tensor& x) override;
  // forward's conv + r (r of the output's shape), then the ReLU: a residual block's tail. Refused
  // with pool.
  Tensor forward_add(const Tensor& x, const Tensor& r);
  FusedConv2dOptions config() const { return {options, relu_, pool_}; }
  bool relu() const { return relu_; }
  bool pool() const { return pool_; }
  std::string extra_repr() const override;

 private:
  // pack_conv2d_weight(weight), packed on the first call and again once the weight was written in
  // place (its storage's version moved) or replaced; one lock for concurrent forwards.
  Tensor packed_weight();

  bool relu_, pool_;
  std::mutex packed_mutex_;
  Tensor packed_;
  std::shared_ptr<const Storage> packed_from_;  // kept alive, so a new storage never shares its address
  const float* packed_data_ = nullptr;
  uint64_t packed_version_ = 0;
};
WICK_REGISTER_MODULE(FusedConv2d);

// A Residual whose body ends in a FusedConv2d (then only Identities) and which has no activation
// of its own: that conv adds the shortcut and applies its ReLU in its own pass.
class FusedResidualImpl : public ResidualImpl {
 public:
  explicit FusedResidualImpl(const ResidualOptions& options);
  Tensor forward(const Tensor& x) override;

 private:
  size_t tail_ = 0;  // the FusedConv2d's index in the body
};
WICK_REGISTER_MODULE(FusedResidual);

// A BatchNorm on its running statistics folded into the Conv2d or Linear before it: out_weight
// (O, ...) = weight scaled per output channel by s = γ / sqrt(running_var + eps), out_bias (O) =
// b·s + (β − running_mean·s) (b = 0 when bias is undefined), in double and rounded once. The
// caller allocates the outputs. Throws when bn normalizes with batch statistics.
void fold_into(const Tensor& weight, const Tensor& bias, Tensor& out_weight, Tensor& out_bias,
               BatchNormImplBase& bn);

// For inference: a copy of the model, in eval mode, where every Conv2d/Linear followed by a
// BatchNorm on its running statistics has the BatchNorm folded into its weights (fold_batchnorm),
// each Conv2d followed by a ReLU is a FusedConv2d (pooling too when a MaxPool2d of kernel and
// stride 2, no padding, dilation 1 and floor sizes comes next), each remaining BatchNorm + ReLU a
// BatchNorm{1,2}dReLU, and each Residual inside a container whose body ends in a conv and whose
// activation is a ReLU (or none) a FusedResidual. Its outputs equal the model's eval outputs to
// float rounding. `fused` (optional) receives how many rewrites were made.
std::shared_ptr<Module> fuse_for_inference(const Module& model, int* fused = nullptr);

}  // namespace wick::nn
