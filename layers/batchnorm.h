// nn::BatchNorm1d / nn::BatchNorm2d, exactly as docs/batchnorm_spec.md (PyTorch 1.13), plus an
// explicit per-module mode so a frozen layer stays frozen whatever train()/eval() say, and the
// BatchNorm+ReLU layers that nn::fuse_batchnorm_relu (layers/fuse.h) puts in their place.
#pragma once
#include <optional>
#include <vector>

#include "module.h"
#include "../core/options.h"
#include "registry.h"

namespace wick::nn {

// num_features, affine and track_running_stats are fixed at construction (they decide which
// tensors exist); eps and momentum are read at every forward.
struct BatchNormOptions {
  BatchNormOptions() = default;  // for the registry: a description gives num_features
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT
  WICK_ARG(int64_t, num_features) = 0;
  WICK_ARG(double, eps) = 1e-5;
  // Weight of the NEW batch in the running averages (PyTorch's convention; Keras's 0.99 is the
  // weight of the old value). std::nullopt: a cumulative average, 1 / num_batches_tracked.
  WICK_ARG(std::optional<double>, momentum) = 0.1;
  WICK_ARG(bool, affine) = true;
  WICK_ARG(bool, track_running_stats) = true;

 public:
  void fields(Fields& f);
};
using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;

enum class BatchNormMode {
  // PyTorch's behaviour: training mode normalizes with the batch statistics and updates the
  // running ones; eval mode normalizes with the running statistics.
  Auto,
  // Running statistics in every mode, buffers never updated, weight and bias get no gradient.
  // model->train() does not undo it; set_mode(Auto) (or unfreeze_batchnorm) does.
  Frozen,
  // Batch statistics in every mode, buffers never updated (what seed 004's trick of switching
  // track_running_stats off was after).
  BatchStats,
};
const char* mode_name(BatchNormMode mode);  // "auto", "frozen", "batch-stats"
BatchNormMode mode_from_name(const std::string& name);  // the inverse; throws on another name

class BatchNormImplBase : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) as one fused op (same values and gradients).
  Tensor forward_relu(const Tensor& x);
  // When forward would normalize with the running statistics (eval mode, or frozen), fills the
  // per-channel map it applies, y = x·scale + shift (scale = γ/√(running_var + eps), shift =
  // β − running_mean·scale, in double), and returns true; false when it would use batch
  // statistics. Warns as forward does about statistics that never saw a batch. fold_batchnorm
  // folds this map into the layer before.
  bool running_affine(std::vector<double>& scale, std::vector<double>& shift);
  std::string extra_repr() const override;
  void extra_state(Fields& f) override;  // the mode, when it is not auto

  void reset_running_stats();  // running_mean 0, running_var 1, num_batches_tracked 0
  void reset_parameters();     // that, and weight 1, bias 0
  void set_mode(BatchNormMode mode);
  BatchNormMode mode() const { return mode_; }
  // Synchronized: batch statistics over every process's batch (sync_batch_norm, for data-parallel
  // training, core/distributed.h), the same as the batch statistics with one process. Not stored
  // in files: a model trained so is an ordinary BatchNorm. SyncBatchNorm starts synchronized.
  void set_sync(bool on) { sync_ = on; }
  bool sync() const { return sync_; }
  // Takes other's tensors (shared, not copied), mode and training flag: a layer that replaces
  // `other` in a model (the BatchNorm+ReLU fusion) and keeps an optimizer's references valid.
  void share_state_of(const BatchNormImplBase& other);

  BatchNormOptions options;
  Tensor weight, bias;                                       // undefined unless affine
  Tensor running_mean, running_var, num_batches_tracked;    // undefined unless track_running_stats

 protected:
  BatchNormImplBase(const BatchNormOptions& options);
  virtual void check_input_dim(const Tensor& x) const = 0;

 private:
  Tensor forward_impl(const Tensor& x, bool relu);
  bool uses_batch_stats() const;
  void warn_if_unseen();

  BatchNormMode mode_ = BatchNormMode::Auto;
  bool sync_ = false;
  bool grad_before_freeze_ = true;
  bool warned_unseen_ = false;
};

// Over (N, C) or (N, C, L).
class BatchNorm1dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm1dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) {}

 protected:
  void check_input_dim(const Tensor& x) const override;
};
WICK_MODULE(BatchNorm1d);
WICK_REGISTER_MODULE(BatchNorm1d);

// Over (N, C, H, W).
class BatchNorm2dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm2dImpl(const BatchNormOptions& options) : BatchNormImplBase(options) {}

 protected:
  void check_input_dim(const Tensor& x) const override;
};
WICK_MODULE(BatchNorm2d);
WICK_REGISTER_MODULE(BatchNorm2d);

// Over (N, C, ...) of any rank >= 2, synchronized across the processes of data-parallel training
// (PyTorch's SyncBatchNorm, which PyTorch runs on GPUs only). With one process it is a BatchNorm.
class SyncBatchNormImpl : public BatchNormImplBase {
 public:
  explicit SyncBatchNormImpl(const BatchNormOptions& options) : BatchNormImplBase(options) { set_sync(true); }

 protected:
  void check_input_dim(const Tensor& x) const override;
};
WICK_MODULE(SyncBatchNorm);
WICK_REGISTER_MODULE(SyncBatchNorm);

// Synchronizes (or, with on = false, unsynchronizes) every BatchNorm in `model`, fused ones
// included, in place: PyTorch's SyncBatchNorm.convert_sync_batchnorm without replacing layers,
// so holders, optimizers and file names are untouched. Returns how many layers it set.
int convert_sync_batchnorm(Module& model, bool on = true);

// A BatchNorm and the ReLU after it as one layer: relu(batch_norm(x)) in one pass, with the same
// values, gradients, tensors and names as the two layers.
class BatchNorm1dReLUImpl : public BatchNorm1dImpl {
 public:
  using BatchNorm1dImpl::BatchNorm1dImpl;
  Tensor forward(const Tensor& x) override { return forward_relu(x); }
};
WICK_REGISTER_MODULE(BatchNorm1dReLU);

class BatchNorm2dReLUImpl : public BatchNorm2dImpl {
 public:
  using BatchNorm2dImpl::BatchNorm2dImpl;
  Tensor forward(const Tensor& x) override { return forward_relu(x); }
};
WICK_REGISTER_MODULE(BatchNorm2dReLU);

}  // namespace wick::nn
