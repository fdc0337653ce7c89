// BatchNorm1d/2d: which statistics each mode uses, the momentum / cumulative-average factor,
// num_batches_tracked, and the once-only warning for a layer evaluated before it saw any data.
#include "layers/batchnorm.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/ops/norm.h"
#include "core/ops/unary.h"
#include "core/warning.h"

namespace wick::nn {

const char* mode_name(BatchNormMode mode) {
  switch (mode) {
    case BatchNormMode::Auto: return "auto";
    case BatchNormMode::Frozen: return "frozen";
    case BatchNormMode::BatchStats: return "batch-stats";
  }
  return "?";
}

BatchNormMode mode_from_name(const std::string& name) {
  for (BatchNormMode m : {BatchNormMode::Auto, BatchNormMode::Frozen, BatchNormMode::BatchStats})
    if (name == mode_name(m)) return m;
  detail::fail("unknown BatchNorm mode \"", name, "\" (auto, frozen, batch-stats)");
}

void BatchNormOptions::fields(Fields& f) {
  f.required("num_features", num_features_, Check::Positive);
  f.optional("eps", eps_, Check::Positive);
  f.optional("momentum", momentum_, Check::Unit);
  f.optional("affine", affine_);
  f.optional("track_running_stats", track_running_stats_);
}

void BatchNormImplBase::extra_state(Fields& f) {
  if (!f.reading() && mode_ == BatchNormMode::Auto) return;
  std::string name = mode_name(mode_);
  f.optional("mode", name);
  set_mode(mode_from_name(name));
}

BatchNormImplBase::BatchNormImplBase(const BatchNormOptions& options) : options(options) {
  int64_t c = options.num_features();
  WICK_CHECK(c > 0, "BatchNorm: num_features must be positive, got ", c);
  WICK_CHECK(std::isfinite(options.eps()) && options.eps() > 0, "BatchNorm: eps must be a positive finite number, got ",
             options.eps());
  WICK_CHECK(!options.momentum() || (*options.momentum() >= 0 && *options.momentum() <= 1),
             "BatchNorm: momentum must be in [0, 1] (or none for a cumulative average), got ", *options.momentum());
  if (options.affine()) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, Dtype::Int64));
  }
}

void BatchNormImplBase::reset_running_stats() {
  if (!running_mean.defined()) return;
  NoGradGuard g;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNormImplBase::reset_parameters() {
  reset_running_stats();
  if (!weight.defined()) return;
  NoGradGuard g;
  weight.fill_(1.0);
  bias.zero_();
}

void BatchNormImplBase::share_state_of(const BatchNormImplBase& other) {
  WICK_CHECK(other.weight.defined() == weight.defined() && other.running_mean.defined() == running_mean.defined(),
             type_name(), ": share_state_of needs a layer with the same tensors");
  if (weight.defined()) {
    weight = reset_tensor("weight", other.weight);
    bias = reset_tensor("bias", other.bias);
  }
  if (running_mean.defined()) {
    running_mean = reset_tensor("running_mean", other.running_mean);
    running_var = reset_tensor("running_var", other.running_var);
    num_batches_tracked = reset_tensor("num_batches_tracked", other.num_batches_tracked);
  }
  mode_ = other.mode_;
  sync_ = other.sync_;
  grad_before_freeze_ = other.grad_before_freeze_;
  warned_unseen_ = other.warned_unseen_;
  train(other.is_training());
}

void BatchNormImplBase::set_mode(BatchNormMode mode) {
  if (mode == mode_) return;
  WICK_CHECK(mode != BatchNormMode::Frozen || running_mean.defined(), type_name(),
             ": cannot freeze a layer built with track_running_stats=false (it has no running statistics)");
  if (weight.defined()) {
    if (mode == BatchNormMode::Frozen) {
      grad_before_freeze_ = weight.requires_grad();
      weight.requires_grad_(false);
      bias.requires_grad_(false);
    } else if (mode_ == BatchNormMode::Frozen) {
      weight.requires_grad_(grad_before_freeze_);
      bias.requires_grad_(grad_before_freeze_);
    }
  }
  mode_ = mode;
}

Tensor BatchNormImplBase::forward(const Tensor& x) { return forward_impl(x, false); }

Tensor BatchNormImplBase::forward_relu(const Tensor& x) { return forward_impl(x, true); }

bool BatchNormImplBase::uses_batch_stats() const {
  switch (mode_) {
    case BatchNormMode::Frozen: return false;
    case BatchNormMode::BatchStats: return true;
    default: return is_training() || !running_mean.defined();
  }
}

void BatchNormImplBase::warn_if_unseen() {
  if (num_batches_tracked.item<int64_t>() == 0 && !warned_unseen_) {
    warned_unseen_ = true;
    warn(type_name() + "(" + std::to_string(options.num_features()) +
         ") normalizes with running statistics that never saw a training batch (num_batches_tracked == 0): "
         "running_mean is still 0 and running_var 1");
  }
}

bool BatchNormImplBase::running_affine(std::vector<double>& scale, std::vector<double>& shift) {
  if (uses_batch_stats()) return false;
  warn_if_unseen();
  const int64_t C = options.num_features();
  scale.assign(static_cast<size_t>(C), 1.0);
  shift.assign(static_cast<size_t>(C), 0.0);
  const float* rm = running_mean.data<float>();
  const float* rv = running_var.data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const double gamma = weight.defined() ? weight.data<float>()[c] : 1.0;
    const double beta = bias.defined() ? bias.data<float>()[c] : 0.0;
    // A negative or non-finite running_var (a corrupt or hand-edited file) would fold into NaNs.
    WICK_CHECK(std::isfinite(rv[c]) && static_cast<double>(rv[c]) + options.eps() > 0 && std::isfinite(rm[c]),
               "BatchNorm: cannot normalize with running statistics running_mean[", c, "] = ", rm[c],
               ", running_var[", c, "] = ", rv[c], " (the variance must be finite and above -eps)");
    scale[c] = gamma * (1.0 / std::sqrt(static_cast<double>(rv[c]) + options.eps()));
    shift[c] = beta - static_cast<double>(rm[c]) * scale[c];
  }
  return true;
}

Tensor BatchNormImplBase::forward_impl(const Tensor& x, bool relu) {
  check_input_dim(x);
  const bool track = running_mean.defined();  // fixed at construction, whatever options say now
  const bool batch_stats = uses_batch_stats();
  const bool update = batch_stats && mode_ == BatchNormMode::Auto && is_training() && track;
  if (!batch_stats) warn_if_unseen();
  double factor = 0.0;
  if (update) {
    int64_t seen = num_batches_tracked.item<int64_t>() + 1;
    factor = options.momentum() ? *options.momentum() : 1.0 / static_cast<double>(seen);
  }
  // Running buffers go to the functional form only where it should read or update them.
  Tensor rm = (!batch_stats || update) ? running_mean : Tensor();
  Tensor rv = (!batch_stats || update) ? running_var : Tensor();
  Tensor y = sync_ ? sync_batch_norm(x, rm, rv, weight, bias, batch_stats, factor, options.eps())
                  : (relu ? batch_norm_relu : batch_norm)(x, rm, rv, weight, bias, batch_stats, factor, options.eps());
  if (sync_ && relu) y = wick::relu(y);
  if (update) {  // only after the update succeeded (a refused NaN batch is not counted)
    ++num_batches_tracked.data<int64_t>()[0];
    num_batches_tracked.bump_version();
  }
  return y;
}

std::string BatchNormImplBase::extra_repr() const {
  std::ostringstream os;
  os << options.num_features() << ", eps=" << options.eps() << ", momentum=";
  if (options.momentum()) os << *options.momentum();
  else os << "None";
  os << ", affine=" << (weight.defined() ? "True" : "False")
     << ", track_running_stats=" << (running_mean.defined() ? "True" : "False");
  if (mode_ != BatchNormMode::Auto) os << ", mode=" << mode_name(mode_);
  return os.str();
}

void BatchNorm1dImpl::check_input_dim(const Tensor& x) const {
  WICK_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got ", x.dim(),
             "D input of shape ", shape_str(x.shape()), ")");
}

void SyncBatchNormImpl::check_input_dim(const Tensor& x) const {
  WICK_CHECK(x.dim() >= 2, "SyncBatchNorm: expected an input of at least 2 dimensions (got shape ", shape_str(x.shape()),
             ")");
}

int convert_sync_batchnorm(Module& model, bool on) {
  int n = 0;
  model.apply([&](Module& m) {
    if (auto* bn = dynamic_cast<BatchNormImplBase*>(&m)) {
      bn->set_sync(on);
      ++n;
    }
  });
  return n;
}

void BatchNorm2dImpl::check_input_dim(const Tensor& x) const {
  WICK_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D input (got ", x.dim(), "D input of shape ",
             shape_str(x.shape()), ")");
}

}  // namespace wick::nn
