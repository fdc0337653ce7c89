// optim::Optimizer, the base of SGD, Adam and AdamW: parameter groups that each carry their own copy
// of the options (libtorch's OptimizerParamGroup), per-parameter state, zero_grad, and
// save_state/load_state as safetensors so training resumes bit-exactly.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/tensor.h"

namespace wick::optim {

// What every optimizer's options struct (SGDOptions, AdamOptions, AdamWOptions) offers the base
// class and the schedulers. Options are read at every step(), so changing a group's options after
// construction (set_lr, or through options_as<SGDOptions>()) takes effect at the next step; they
// are validated when a group is added and when a state file is loaded.
struct OptimizerOptions {
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // The momentum OneCycleLR cycles: SGD's momentum, Adam's and AdamW's beta1.
  virtual double get_momentum() const = 0;
  virtual void set_momentum(double momentum) = 0;
  // Every hyperparameter by name (bools as 0/1), for state files.
  virtual std::vector<std::pair<std::string, double>> hyperparameters() const = 0;
  // Throws wick::Error for an unknown name.
  virtual void set_hyperparameter(const std::string& name, double value) = 0;
  // Throws wick::Error naming `op` and the bad value (negative lr, betas outside [0, 1), ...).
  virtual void validate(const std::string& op) const = 0;
};

// Some parameters and, optionally, their own options; a group without options takes the
// optimizer's defaults when it is added:
//   optim::SGD opt({optim::ParamGroup(backbone, optim::SGDOptions(0.01)), optim::ParamGroup(head)},
//                  optim::SGDOptions(0.1).momentum(0.9));
class ParamGroup {
 public:
  explicit ParamGroup(std::vector<Tensor> params);
  ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) = default;
  ParamGroup& operator=(ParamGroup&&) = default;

  const std::vector<Tensor>& params() const { return params_; }
  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  // The options as the optimizer's own type: group.options_as<SGDOptions>().momentum(0.8).
  template <typename O> O& options_as() {
    auto* o = dynamic_cast<O*>(&options());
    WICK_CHECK(o != nullptr, "ParamGroup::options_as: the group's options are of another optimizer");
    return *o;
  }
  template <typename O> const O& options_as() const { return const_cast<ParamGroup*>(this)->options_as<O>(); }
  double lr() const { return options().get_lr(); }
  void set_lr(double lr) { options().set_lr(lr); }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
};

// One parameter's state: how many steps it has taken and named buffers of its shape
// ("momentum_buffer" for SGD; "exp_avg", "exp_avg_sq", "max_exp_avg_sq" for Adam and AdamW).
struct ParamState {
  int64_t step = 0;
  std::vector<std::pair<std::string, Tensor>> buffers;
  bool has(const std::string& name) const;
  Tensor& at(const std::string& name);  // throws if missing
  Tensor& get_or_zeros(const std::string& name, const Shape& shape);  // created as zeros when missing
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "SGD", "Adam", "AdamW": named in errors and checked by load_state.
  const std::string& name() const { return name_; }
  // One update of every parameter that has a gradient (parameters without one are skipped, as in
  // PyTorch). Runs under NoGradGuard and writes the parameters in place.
  virtual void step() = 0;

  // Drops every parameter's gradient (set_to_none, the default), or zeroes it in place.
  void zero_grad(bool set_to_none = true);

  // Adds parameters with their own options (or the defaults). Parameters must be float32 leaves and
  // may belong to one group only.
  void add_param_group(const ParamGroup& group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  // Every parameter, group by group (the order state files use).
  std::vector<Tensor> parameters() const;

  // The learning rate of one group, and setting it for one group or all of them.
  double lr(size_t group = 0) const;
  void set_lr(double lr);
  void set_lr(size_t group, double lr);

  // Per-parameter state (created empty on first use).
  bool has_state(const Tensor& param) const;
  ParamState& state(const Tensor& param);

  // Writes the state as safetensors (atomic): tensors "state.<i>.<buffer>" for the i-th parameter
  // (group by group), and in the metadata the optimizer's name, every group's hyperparameters and
  // parameter shapes, and each parameter's step count.
  void save_state(const std::string& path) const;
  // Restores what save_state wrote into an optimizer over parameters of the same shapes in the same
  // groups (hyperparameters included, so a scheduler's lr carries over). Everything is checked
  // before anything changes; a mismatch names the group, the parameter and both shapes.
  void load_state(const std::string& path);

 protected:
  // Validates the defaults, adds each group; throws on an empty parameter list.
  Optimizer(std::string name, std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults);
  Optimizer(std::string name, std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> defaults);

 private:
  std::string name_;
  std::vector<ParamGroup> groups_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

namespace detail {
// Elementwise chunks for optimizer loops: a fixed grain, so results never depend on threads.
constexpr int64_t kOptimGrain = 16384;
// Checks a hyperparameter for options.validate(): finite and >= 0 (and < 1 when below_one).
void check_hyper(const std::string& op, const char* name, double value, bool below_one = false);
}  // namespace detail

}  // namespace wick::optim
