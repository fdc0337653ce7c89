// Sequential, ModuleList and Residual: construction from a config, indexing, plain forwards.
#include "layers/containers.h"

#include "core/ops/elementwise.h"
#include "core/trace.h"

namespace wick::nn {

Tensor forward_child(const std::string& name, Module& m, const Tensor& x) {
  trace::Child traced_as(name);
  try {
    return m.forward(x);
  } catch (const ChildError& e) {
    throw ChildError(name + "." + e.path(), e.message());
  } catch (const Error& e) {
    throw ChildError(name, e.what());
  }
}

std::shared_ptr<Module> ListImpl::operator[](size_t i) const {
  WICK_CHECK(i < size(), type_name(), ": index ", i, " is out of range for ", size(), " modules");
  return named_children()[i].second;
}

SequentialImpl::SequentialImpl(const LayersOptions& options) {
  for (const auto& [name, m] : options.layers) add(name, m);
}

Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, m] : named_children()) h = forward_child(name, *m, h);
  return h;
}

void SequentialImpl::set(size_t i, std::shared_ptr<Module> module) {
  replace_module(named_children().at(i).first, std::move(module));
}

ModuleListImpl::ModuleListImpl(const LayersOptions& options) {
  for (const auto& [name, m] : options.layers) add(name, m);
}

ResidualImpl::ResidualImpl(const ResidualOptions& options) : body_size_(options.layers.size()) {
  WICK_CHECK(!options.layers.empty(), "Residual: the body needs at least one layer");
  for (const auto& [name, m] : options.layers) add_child(name, m);
  if ((has_shortcut_ = options.shortcut != nullptr)) add_child("shortcut", options.shortcut);
  if ((has_activation_ = options.activation != nullptr)) add_child("activation", options.activation);
}

std::shared_ptr<Module> ResidualImpl::operator[](size_t i) const {
  WICK_CHECK(i < body_size_, "Residual: body index ", i, " is out of range for ", body_size_, " layers");
  return named_children()[i].second;
}

void ResidualImpl::set(size_t i, std::shared_ptr<Module> module) {
  WICK_CHECK(i < body_size_, "Residual: body index ", i, " is out of range for ", body_size_, " layers");
  replace_module(named_children()[i].first, std::move(module));
}

std::shared_ptr<Module> ResidualImpl::shortcut() const {
  return has_shortcut_ ? named_children()[body_size_].second : nullptr;
}

std::shared_ptr<Module> ResidualImpl::activation() const {
  return has_activation_ ? named_children()[body_size_ + has_shortcut_].second : nullptr;
}

ResidualOptions ResidualImpl::config() const {
  const auto& children = named_children();
  ResidualOptions o;
  o.layers.assign(children.begin(), children.begin() + static_cast<std::ptrdiff_t>(body_size_));
  o.shortcut = shortcut();
  o.activation = activation();
  return o;
}

Tensor ResidualImpl::forward(const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < body_size_; ++i) h = forward_child(named_children()[i].first, *named_children()[i].second, h);
  auto s = shortcut();
  Tensor y = add(h, s ? forward_child("shortcut", *s, x) : x);
  auto a = activation();
  return a ? forward_child("activation", *a, y) : y;
}

}  // namespace wick::nn
