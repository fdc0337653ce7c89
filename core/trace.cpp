// The thread-local tracer behind trace::active and trace::op.
#include "core/trace.h"

#include "core/error.h"

namespace wick::trace {
namespace {
thread_local Tracer* current = nullptr;
thread_local std::vector<std::string> children;  // the open trace::Child names, outermost first
}  // namespace

Tracer* active() { return current; }

Scope::Scope(Tracer& tracer) {
  WICK_CHECK(current == nullptr, "trace: a tracer is already installed on this thread");
  current = &tracer;
}

Scope::~Scope() {
  current = nullptr;
  children.clear();
}

Child::Child(const std::string& name) {
  if (!current) return;
  children.push_back(name);
  pushed_ = true;
}

Child::~Child() {
  if (pushed_ && !children.empty()) children.pop_back();
}

namespace {
std::string current_path() {
  std::string path;
  for (const std::string& c : children) path += (path.empty() ? "" : ".") + c;
  return path;
}
}  // namespace

void node(const char* name, const Tensor& out) {
  if (current) current->node(name, out, current_path());
}

void op(const char* name, const Tensor& out, std::vector<Tensor> inputs, std::vector<Attr> attrs) {
  if (!current) return;
  // Uninstalled while it runs: ops the tracer itself calls are not traced.
  std::string path = current_path();
  Tracer* t = current;
  current = nullptr;
  try {
    t->record({name, std::move(inputs), out, std::move(attrs), std::move(path)});
  } catch (...) {
    current = t;
    throw;
  }
  current = t;
}

}  // namespace wick::trace
