// nn::Module: registration, recursive traversal with dotted names, train/eval, printing.
#include "layers/module.h"

#include <ostream>
#include <sstream>

#include "core/autograd.h"

namespace wick::nn {

Tensor Module::forward(const Tensor&) {
  detail::fail(type_name(), ": this module has no forward(Tensor)");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::check_new_name(const std::string& name, const char* what) const {
  WICK_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid ", what,
             " name \"", name, "\" (must be non-empty, without '.')");
  WICK_CHECK(!names_.count(name), type_name(), ": the name \"", name, "\" is already registered");
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name, "parameter");
  if (t.defined()) t.requires_grad_(requires_grad);
  names_.insert(name);
  params_.emplace_back(name, t);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "buffer");
  names_.insert(name);
  buffers_.emplace_back(name, t);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name, "module");
  WICK_CHECK(m != nullptr, type_name(), ": register_module(\"", name, "\") got a null module");
  names_.insert(name);
  children_.emplace_back(name, std::move(m));
}

Tensor& Module::reset_tensor(const std::string& name, const Tensor& t) {
  for (auto* list : {&params_, &buffers_})
    for (auto& [n, slot] : *list)
      if (n == name) {
        WICK_CHECK(slot.defined() == t.defined() && (!t.defined() || (slot.shape() == t.shape() && slot.dtype() == t.dtype())),
                   type_name(), ": reset_tensor(\"", name, "\") needs a tensor like the one registered");
        return slot = t;
      }
  detail::fail(type_name(), ": reset_tensor: there is no parameter or buffer named \"", name, "\"");
}

std::shared_ptr<Module> Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  WICK_CHECK(module != nullptr, type_name(), ": replace_module(\"", name, "\") got a null module");
  for (auto& [n, child] : children_)
    if (n == name) return child = std::move(module);
  detail::fail(type_name(), ": replace_module: there is no child module named \"", name, "\"");
}

namespace {

// Collects (prefix + name, tensor) for `own` lists over a module tree, PyTorch's order: a
// module's own entries first, then each child's, depth first.
template <typename Getter>
void collect(const Module& m, const std::string& prefix, bool recurse, Getter own, Named<Tensor>& out) {
  for (const auto& [name, t] : own(m))
    if (t.defined()) out.emplace_back(prefix + name, t);
  if (!recurse) return;
  for (const auto& [name, child] : m.named_children()) collect(*child, prefix + name + ".", true, own, out);
}

std::vector<Tensor> values(const Named<Tensor>& named) {
  std::vector<Tensor> out;
  for (const auto& [n, t] : named) out.push_back(t);
  return out;
}

}  // namespace

Named<Tensor> Module::named_parameters(bool recurse) const {
  Named<Tensor> out;
  collect(*this, "", recurse, [](const Module& m) -> const Named<Tensor>& { return m.params_; }, out);
  return out;
}

Named<Tensor> Module::named_buffers(bool recurse) const {
  Named<Tensor> out;
  collect(*this, "", recurse, [](const Module& m) -> const Named<Tensor>& { return m.buffers_; }, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const { return values(named_parameters(recurse)); }
std::vector<Tensor> Module::buffers(bool recurse) const { return values(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, c] : children_) out.push_back(c);
  return out;
}

Named<std::shared_ptr<Module>> Module::named_modules() {
  // The root is reached through a non-owning pointer: a module need not be owned by a shared_ptr.
  Named<std::shared_ptr<Module>> out{{"", std::shared_ptr<Module>(std::shared_ptr<Module>(), this)}};
  for (const auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (const auto& child : children_) child.second->apply(fn);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.set_grad(Tensor());
}

void Module::requires_grad_(bool on) {
  for (Tensor& p : parameters()) p.requires_grad_(on);
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

std::string Module::repr() const {
  std::string head = type_name() + "(" + extra_repr();
  if (children_.empty()) return head + ")";
  std::ostringstream os;
  os << head << "\n";
  for (const auto& [name, child] : children_) {
    std::string sub = child->repr();
    // Indent nested lines by two spaces, as PyTorch does.
    std::string indented;
    for (char c : sub) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    os << "  (" << name << "): " << indented << "\n";
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace wick::nn
