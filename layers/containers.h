// The containers: nn::Sequential (children run in order, as torch.nn.Sequential), nn::ModuleList
// (children held, not run) and nn::Residual (a body of layers plus a shortcut, added, then an
// optional activation: the ResNet block). Their forwards are plain loops; optimizations such as
// fusion are explicit passes over them (layers/fuse.h).
#pragma once
#include "module.h"
#include "registry.h"

namespace wick::nn {

// An error raised inside a container's child, rethrown with the child's dotted path in front of
// the original message ("layer2.0.conv1: conv2d: ..."); each enclosing container adds its level.
class ChildError : public Error {
 public:
  ChildError(const std::string& path, const std::string& message)
      : Error(path + ": " + message), path_(path), message_(message) {}
  const std::string& path() const { return path_; }        // "layer2.0.conv1"
  const std::string& message() const { return message_; }  // the child's own message

 private:
  std::string path_, message_;
};

// m->forward(x), with a wick::Error from inside it rethrown as a ChildError under `name`.
Tensor forward_child(const std::string& name, Module& m, const Tensor& x);

// An ordered list of named children: the config of Sequential and ModuleList. Children are named
// "0", "1", ... by position unless given a name (PyTorch's Sequential(OrderedDict(...))).
struct LayersOptions {
  Named<std::shared_ptr<Module>> layers;
  void fields(Fields& f) { f.optional("layers", layers); }
};

// The children of a list, appended, indexed and looked up by position.
class ListImpl : public Module {
 public:
  // Appends a module (a holder such as nn::Linear, or a shared_ptr to a Module), named by its
  // position or by `name`.
  template <typename M>
  void push_back(const M& module) {
    add(as_module(module));
  }
  template <typename M>
  void push_back(const std::string& name, const M& module) {
    add(name, as_module(module));
  }
  void add(std::shared_ptr<Module> module) { add(std::to_string(size()), std::move(module)); }
  void add(const std::string& name, std::shared_ptr<Module> module) { add_child(name, std::move(module)); }

  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
  // The i-th module as its concrete type; throws if it is another type.
  template <typename Impl>
  std::shared_ptr<Impl> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<Impl>((*this)[i]);
    WICK_CHECK(m != nullptr, type_name(), ": module ", i, " is a ", (*this)[i]->type_name(),
               ", not the type asked for");
    return m;
  }
  LayersOptions config() const { return {named_children()}; }

 protected:
  template <typename M>
  static std::shared_ptr<Module> as_module(const M& module) {
    if constexpr (requires { module.ptr(); }) return module.ptr();
    else return std::shared_ptr<Module>(module);
  }
};

class SequentialImpl : public ListImpl {
 public:
  SequentialImpl() = default;
  explicit SequentialImpl(const LayersOptions& options);
  template <typename... Modules>
    requires(sizeof...(Modules) > 0 && !(std::is_same_v<std::remove_cvref_t<Modules>, LayersOptions> || ...))
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }
  Tensor forward(const Tensor& x) override;
  // Swaps the i-th child for another module under the same name (what the fusion passes do).
  void set(size_t i, std::shared_ptr<Module> module);
};
WICK_MODULE(Sequential);
WICK_REGISTER_MODULE(Sequential);

// Holds modules for a parent's own forward to use; it has no forward itself.
class ModuleListImpl : public ListImpl {
 public:
  ModuleListImpl() = default;
  explicit ModuleListImpl(const LayersOptions& options);
};
WICK_MODULE(ModuleList);
WICK_REGISTER_MODULE(ModuleList);

// activation(body(x) + shortcut(x)): the body's layers run in order and are children under their
// own names (so a ResNet block's keys are PyTorch's: "conv1.weight", "bn1.running_mean", ...); the
// shortcut (child "shortcut"; none: the identity) and the activation (child "activation"; none: no
// activation) are modules too.
struct ResidualOptions {
  Named<std::shared_ptr<Module>> layers;
  std::shared_ptr<Module> shortcut, activation;
  void fields(Fields& f) {
    f.required("layers", layers);
    f.optional("shortcut", shortcut);
    f.optional("activation", activation);
  }
};

class ResidualImpl : public Module {
 public:
  explicit ResidualImpl(const ResidualOptions& options);
  Tensor forward(const Tensor& x) override;
  ResidualOptions config() const;

  size_t size() const { return body_size_; }  // body layers
  std::shared_ptr<Module> operator[](size_t i) const;
  void set(size_t i, std::shared_ptr<Module> module);  // swaps the i-th body layer, same name
  std::shared_ptr<Module> shortcut() const;            // null: the identity
  std::shared_ptr<Module> activation() const;          // null: none

 private:
  size_t body_size_ = 0;
  bool has_shortcut_ = false, has_activation_ = false;
};
WICK_MODULE(Residual);
WICK_REGISTER_MODULE(Residual);

}  // namespace wick::nn
