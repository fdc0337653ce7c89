// The Optimizer base: parameter groups, per-parameter state, zero_grad, and state files.
#include "optim/optimizer.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <typeinfo>

#include "core/autograd.h"
#include "core/safetensors.h"

namespace wick::optim {

// ---------------------------------------------------------------- ParamGroup, ParamState

ParamGroup::ParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}

ParamGroup::ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options)
    : params_(std::move(params)), options_(options.clone()) {}

ParamGroup::ParamGroup(const ParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr) {}

ParamGroup& ParamGroup::operator=(const ParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.options_ ? other.options_->clone() : nullptr;
  }
  return *this;
}

OptimizerOptions& ParamGroup::options() {
  WICK_CHECK(options_ != nullptr, "ParamGroup: this group has no options (it takes the optimizer's "
                                  "defaults once added to an optimizer)");
  return *options_;
}

const OptimizerOptions& ParamGroup::options() const { return const_cast<ParamGroup*>(this)->options(); }

bool ParamState::has(const std::string& name) const {
  for (auto& [n, t] : buffers)
    if (n == name) return true;
  return false;
}

Tensor& ParamState::at(const std::string& name) {
  for (auto& [n, t] : buffers)
    if (n == name) return t;
  ::wick::detail::fail("optimizer state: no buffer \"", name, "\"");
}

Tensor& ParamState::get_or_zeros(const std::string& name, const Shape& shape) {
  for (auto& [n, t] : buffers)
    if (n == name) return t;
  buffers.emplace_back(name, zeros(shape));
  return buffers.back().second;
}

namespace detail {
void check_hyper(const std::string& op, const char* name, double value, bool below_one) {
  WICK_CHECK(std::isfinite(value) && value >= 0.0 && (!below_one || value < 1.0), op, ": invalid ", name, " ",
             value, " (expected a finite value", below_one ? " in [0, 1)" : " >= 0", ")");
}
}  // namespace detail

// ---------------------------------------------------------------- Optimizer

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, std::unique_ptr<OptimizerOptions> defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {
  defaults_->validate(name_);
  size_t n = 0;
  for (auto& g : groups) n += g.params().size();
  WICK_CHECK(n > 0, name_, ": got an empty parameter list");
  for (auto& g : groups) add_param_group(g);
}

Optimizer::Optimizer(std::string name, std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> defaults)
    : Optimizer(std::move(name), std::vector<ParamGroup>{ParamGroup(std::move(params))}, std::move(defaults)) {}

void Optimizer::add_param_group(const ParamGroup& group) {
  const size_t gi = groups_.size();
  const std::string op = name_ + "::add_param_group";
  std::set<const TensorImpl*> seen;
  for (auto& g : groups_)
    for (auto& p : g.params()) seen.insert(p.impl());
  for (size_t i = 0; i < group.params().size(); ++i) {
    const Tensor& p = group.params()[i];
    WICK_CHECK(p.defined(), op, ": parameter ", i, " of group ", gi, " is undefined");
    WICK_CHECK(p.dtype() == Dtype::Float32, op, ": parameter ", i, " of group ", gi, " (shape ",
               shape_str(p.shape()), ") is ", dtype_name(p.dtype()), "; optimizers update float32 tensors");
    WICK_CHECK(p.is_leaf(), op, ": parameter ", i, " of group ", gi, " (shape ", shape_str(p.shape()),
               ") is not a leaf tensor; optimize the leaves the graph starts from");
    WICK_CHECK(p.is_contiguous(), op, ": parameter ", i, " of group ", gi, " (shape ",
               shape_str(p.shape()), ") is not contiguous");
    WICK_CHECK(seen.insert(p.impl()).second, op, ": parameter ", i, " of group ", gi, " (shape ",
               shape_str(p.shape()), ") appears in more than one parameter group (or twice in one)");
  }
  ParamGroup g = group;
  if (!g.has_options()) {
    g.set_options(defaults_->clone());
  } else {
    const OptimizerOptions& o = g.options();
    const OptimizerOptions& d = *defaults_;
    WICK_CHECK(typeid(o) == typeid(d), op, ": group ", gi,
               " has options of another optimizer than this one's");
    o.validate(op + " (group " + std::to_string(gi) + ")");
  }
  groups_.push_back(std::move(g));
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (auto& g : groups_) out.insert(out.end(), g.params().begin(), g.params().end());
  return out;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& g : groups_)
    for (const Tensor& p : g.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) const_cast<Tensor&>(p).set_grad(Tensor());
      else grad.zero_();
    }
}

double Optimizer::lr(size_t group) const {
  WICK_CHECK(group < groups_.size(), name(), ": no parameter group ", group, " (there are ", groups_.size(), ")");
  return groups_[group].lr();
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

void Optimizer::set_lr(size_t group, double lr) {
  WICK_CHECK(group < groups_.size(), name(), ": no parameter group ", group, " (there are ", groups_.size(), ")");
  detail::check_hyper(name() + ".set_lr", "learning rate", lr);
  groups_[group].set_lr(lr);
}

bool Optimizer::has_state(const Tensor& param) const { return state_.count(param.impl()) != 0; }

ParamState& Optimizer::state(const Tensor& param) { return state_[param.impl()]; }

// ---------------------------------------------------------------- state files

void Optimizer::save_state(const std::string& path) const {
  nlohmann::json groups = nlohmann::json::array(), params = nlohmann::json::array();
  std::vector<std::pair<std::string, Tensor>> tensors;
  int64_t index = 0;
  for (auto& g : groups_) {
    nlohmann::json options = nlohmann::json::object();
    for (auto& [k, v] : g.options().hyperparameters()) options[k] = v;
    groups.push_back({{"options", options}, {"params", g.params().size()}});
    for (const Tensor& p : g.params()) {
      nlohmann::json entry = {{"shape", p.shape()}};
      auto it = state_.find(p.impl());
      if (it != state_.end()) {
        entry["step"] = it->second.step;
        for (auto& [n, t] : it->second.buffers) tensors.emplace_back("state." + std::to_string(index) + "." + n, t);
      }
      params.push_back(entry);
      ++index;
    }
  }
  nlohmann::json state = {{"groups", groups}, {"params", params}};
  write_safetensors(path, tensors, {{"wick.optimizer", name()}, {"wick.optimizer_state", state.dump()}});
}

void Optimizer::load_state(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  const std::string op = name() + "::load_state " + path;
  auto kind = file.metadata.find("wick.optimizer");
  auto meta = file.metadata.find("wick.optimizer_state");
  WICK_CHECK(kind != file.metadata.end() && meta != file.metadata.end(), op,
             ": not an optimizer state file (no wick.optimizer metadata)");
  WICK_CHECK(kind->second == name(), op, ": the file holds the state of ", kind->second, ", not ", name());
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(meta->second);
  } catch (const nlohmann::json::exception& e) {
    ::wick::detail::fail(op, ": bad optimizer metadata: ", e.what());
  }
  std::map<std::string, Tensor> tensors(file.tensors.begin(), file.tensors.end());

  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::unordered_map<const TensorImpl*, ParamState> new_state;
  try {
    const auto& groups = state.at("groups");
    const auto& params = state.at("params");
    WICK_CHECK(groups.size() == groups_.size(), op, ": the file has ", groups.size(),
               " parameter groups, the optimizer has ", groups_.size());
    size_t total = 0;
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      size_t n = groups[gi].at("params").get<size_t>();
      WICK_CHECK(n == groups_[gi].params().size(), op, ": group ", gi, " has ", n,
                 " parameters in the file but ", groups_[gi].params().size(), " in the optimizer");
      total += n;
      auto o = groups_[gi].options().clone();
      for (auto& [k, v] : groups[gi].at("options").items()) o->set_hyperparameter(k, v.get<double>());
      o->validate(op + " (group " + std::to_string(gi) + ")");
      options.push_back(std::move(o));
    }
    WICK_CHECK(params.size() == total, op, ": the file lists ", params.size(), " parameters, its groups ", total);
    size_t index = 0;
    for (size_t gi = 0; gi < groups_.size(); ++gi) {
      for (size_t pi = 0; pi < groups_[gi].params().size(); ++pi, ++index) {
        const Tensor& p = groups_[gi].params()[pi];
        Shape shape = params[index].at("shape").get<Shape>();
        WICK_CHECK(shape == p.shape(), op, ": parameter ", pi, " of group ", gi, " (index ", index, ") has shape ",
                   shape_str(shape), " in the file but ", shape_str(p.shape()), " in the optimizer");
        if (!params[index].contains("step")) continue;
        // At most 2^53 steps: Adam's bias corrections raise betas to the step in double.
        const nlohmann::json& step = params[index].at("step");
        WICK_CHECK(step.is_number_integer() && step.get<int64_t>() >= 1 && step.get<int64_t>() <= (int64_t{1} << 53),
                   op, ": parameter ", pi, " of group ", gi, " has step count ", step.dump(),
                   "; expected an integer from 1 to 2^53");
        ParamState s;
        s.step = step.get<int64_t>();
        const std::string prefix = "state." + std::to_string(index) + ".";
        for (auto it = tensors.lower_bound(prefix); it != tensors.end() && it->first.rfind(prefix, 0) == 0;) {
          const Tensor& t = it->second;
          WICK_CHECK(t.dtype() == Dtype::Float32 && t.shape() == p.shape(), op, ": \"", it->first, "\" is ",
                     dtype_name(t.dtype()), " ", shape_str(t.shape()), " but parameter ", pi, " of group ", gi,
                     " is float32 ", shape_str(p.shape()));
          for (float v : t.to_vector<float>())
            WICK_CHECK(std::isfinite(v), op, ": \"", it->first, "\" holds ", v, " (a state buffer must be finite)");
          s.buffers.emplace_back(it->first.substr(prefix.size()), t.clone());
          it = tensors.erase(it);
        }
        new_state.emplace(p.impl(), std::move(s));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    ::wick::detail::fail(op, ": bad optimizer metadata: ", e.what());
  }
  WICK_CHECK(tensors.empty(), op, ": unexpected tensor \"", tensors.empty() ? "" : tensors.begin()->first,
             "\" (no parameter with a step count has that index)");
  // Everything checked: commit.
  for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].set_options(std::move(options[gi]));
  state_ = std::move(new_state);
}

}  // namespace wick::optim
