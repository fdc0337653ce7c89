// nn::Module, the base every layer shares: parameters, buffers and child modules registered by
// name (PyTorch's dotted names), a train/eval switch that recurses, clone(), and PyTorch's printout.
// ModuleHolder and WICK_MODULE give each layer a libtorch-style shared handle (nn::Linear holds a
// std::shared_ptr<LinearImpl>; copies share the module).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/tensor.h"

namespace wick::nn {

class Module;
class Fields;
template <typename T> using Named = std::vector<std::pair<std::string, T>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The registered name ("Conv2d"; layers/registry.h), or the C++ name of an unregistered type.
  virtual std::string type_name() const;
  // The layer's computation. Layers taking one tensor override this.
  virtual Tensor forward(const Tensor& x);

  // Sets training mode here and in every descendant; eval() is train(false).
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  std::vector<Tensor> parameters(bool recurse = true) const;
  Named<Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  Named<Tensor> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  const Named<std::shared_ptr<Module>>& named_children() const { return children_; }
  // This module (named "") and every descendant, depth first, in registration order.
  Named<std::shared_ptr<Module>> named_modules();

  // Swaps the registered child `name` for another module (e.g. a new classifier head), as
  // libtorch's replace_module. Returns the new module.
  std::shared_ptr<Module> replace_module(const std::string& name, std::shared_ptr<Module> module);
  // The same for a holder (model->replace_module("11", nn::Linear(128, 5))), returned as given.
  template <typename Holder>
    requires requires(const Holder& h) { h.ptr(); }
  Holder replace_module(const std::string& name, const Holder& holder) {
    replace_module(name, std::shared_ptr<Module>(holder.ptr()));
    return holder;
  }

  // A deep copy: parameters, buffers, training flags and BatchNorm modes, built from the registered
  // config of every module in the tree (an unregistered one is an error naming it). Defined with
  // the descriptions it is built from, in layers/architecture.cpp.
  std::shared_ptr<Module> clone() const;
  // State that is neither a tensor nor config (a BatchNorm's mode), read or written through f;
  // files and clone() carry it. Most modules have none.
  virtual void extra_state(Fields& f) { (void)f; }

  // Points the registered parameter or buffer `name` at another tensor of the same shape and
  // dtype (layers that share their tensors with another layer). Returns the new handle.
  Tensor& reset_tensor(const std::string& name, const Tensor& t);

  // Calls fn on this module and then on every descendant, depth first in registration order
  // (libtorch's apply), e.g. to initialize every Conv2d of a tree. named_modules() gives names.
  void apply(const std::function<void(Module&)>& fn);

  void zero_grad();                     // drops every parameter's gradient
  void requires_grad_(bool on = true);  // on every parameter of the subtree
  int64_t parameter_count() const;      // elements in all parameters

  // PyTorch's module printout: "Sequential(\n  (0): Conv2d(1, 32, kernel_size=(3, 3), ...)\n)".
  std::string repr() const;
  virtual std::string extra_repr() const { return ""; }

 protected:
  // Registers a parameter (an undefined tensor registers nothing, like PyTorch's None).
  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // The same for a holder (nn::Conv2d(...)), returned as given.
  template <typename Holder>
    requires requires(const Holder& h) { h.ptr(); }
  Holder register_module(const std::string& name, const Holder& holder) {
    add_child(name, holder.ptr());
    return holder;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  void check_new_name(const std::string& name, const char* what) const;

  bool training_ = true;
  Named<Tensor> params_, buffers_;
  Named<std::shared_ptr<Module>> children_;
  std::unordered_set<std::string> names_;  // of all three, so registering n names takes O(n)
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// A shared handle on a module implementation, as libtorch's ModuleHolder.
template <typename Impl>
class ModuleHolder {
 public:
  using ImplType = Impl;
  template <typename... Args>
    requires std::is_constructible_v<Impl, Args...>
  explicit ModuleHolder(Args&&... args) : impl_(std::make_shared<Impl>(std::forward<Args>(args)...)) {}
  ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}  // NOLINT: implicit on purpose
  // An empty holder, assigned later (libtorch's `nn::Conv2d conv{nullptr};` member); tests false.
  ModuleHolder(std::nullptr_t) {}  // NOLINT: implicit on purpose
  explicit operator bool() const { return impl_ != nullptr; }

  Impl* operator->() const { return impl_.get(); }
  Impl& operator*() const { return *impl_; }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  // seq[i] on a holder, for implementations that index (Sequential, ModuleList, Residual).
  template <typename Index>
    requires requires(const Impl& m, Index i) { m[i]; }
  decltype(auto) operator[](Index i) const {
    return (*impl_)[i];
  }
  template <typename... Args>
  auto operator()(Args&&... args) const {
    return impl_->forward(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<Impl> impl_;
};

template <typename Impl>
std::ostream& operator<<(std::ostream& os, const ModuleHolder<Impl>& m) {
  return os << *m;
}

}  // namespace wick::nn

// Declares nn::Name as the shared handle of nn::NameImpl.
#define WICK_MODULE(Name)                                   \
  class Name : public ::wick::nn::ModuleHolder<Name##Impl> { \
   public:                                                  \
    using ::wick::nn::ModuleHolder<Name##Impl>::ModuleHolder; \
  }
