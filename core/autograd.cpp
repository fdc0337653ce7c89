// The autograd engine: grad mode, recording nodes, and backward() walking the graph in reverse
// topological order, each node adding its inputs' gradients into their accumulators.
#include "core/autograd.h"

#include <chrono>
#include <unordered_set>

namespace wick {
namespace {

thread_local bool grad_enabled = true;
BackwardObserver backward_observer;

void check_version(const Node& node, const Tensor& t, uint64_t expected) {
  WICK_CHECK(t.impl()->storage->version == expected,
             "backward of ", node.name,
             ": a tensor it saved (shape ", shape_str(t.shape()),
             ") was modified by an in-place operation after the forward pass");
}

}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool on) { grad_enabled = on; }
void set_backward_observer(BackwardObserver observer) { backward_observer = std::move(observer); }

const Tensor& BackwardCtx::out() const {
  check_version(node_, out_, node_.out_version);
  return out_;
}

const Tensor& BackwardCtx::input(size_t i) const {
  check_version(node_, node_.inputs.at(i), node_.versions.at(i));
  return node_.inputs[i];
}

bool BackwardCtx::needs_grad(size_t i) const { return node_.inputs.at(i).requires_grad(); }

Tensor& BackwardCtx::grad_in(size_t i) {
  TensorImpl* in = node_.inputs.at(i).impl();
  WICK_CHECK(in->requires_grad, "backward of ", node_.name, ": input ", i, " needs no gradient");
  if (!in->grad) in->grad = zeros(in->shape).impl_ptr();
  if (!grads_[i].defined()) grads_[i] = Tensor(in->grad);
  return grads_[i];
}

Tensor& BackwardCtx::grad_in_or_new(size_t i, bool& assign) {
  TensorImpl* in = node_.inputs.at(i).impl();
  assign = in->requires_grad && !in->grad;
  if (assign) in->grad = empty(in->shape).impl_ptr();
  return grad_in(i);
}

bool should_record(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool should_record(const std::vector<Tensor>& inputs) {
  if (!grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& out, const char* name, std::vector<Tensor> inputs, BackwardFn fn) {
  if (!should_record(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : inputs) node->versions.push_back(t.impl()->storage->version);
  node->inputs = std::move(inputs);
  node->out_version = out.impl()->storage->version;
  node->fn = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

void check_inplace(const Tensor& t, const char* op) {
  if (!grad_enabled || !t.requires_grad()) return;
  WICK_CHECK(!t.is_leaf(), op, ": a leaf tensor that requires grad (shape ", shape_str(t.shape()),
             ") cannot be modified in place while grad mode is on; use NoGradGuard");
  detail::fail(op, ": in-place update of a tensor inside the autograd graph (shape ",
               shape_str(t.shape()), ") is not supported");
}

void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  WICK_CHECK(root.requires_grad(),
             "backward: the tensor does not require grad and has no grad_fn (shape ",
             shape_str(root.shape()), ")");
  Tensor seed;
  if (grad.defined()) {
    WICK_CHECK(grad.shape() == root.shape(), "backward: gradient of shape ", shape_str(grad.shape()),
               " for an output of shape ", shape_str(root.shape()));
    seed = grad.to(Dtype::Float32).contiguous().clone();
  } else {
    WICK_CHECK(root.numel() == 1,
               "backward: grad can be implicitly created only for scalar outputs, got shape ",
               shape_str(root.shape()), "; pass the gradient explicitly");
    seed = ones(root.shape());
  }
  {
    NoGradGuard no_grad;
    seed = seed.detach();
  }

  // Reverse topological order by an iterative depth-first search over nodes.
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root.impl_ptr(), 0}};
  seen.insert(root.impl());
  while (!stack.empty()) {
    auto& [impl, next] = stack.back();
    Node* node = impl->grad_fn.get();
    if (node && node->released)
      detail::fail("backward: trying to backward through the graph a second time (", node->name,
                   " already released its saved tensors); pass retain_graph=true the first time");
    if (node && next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.requires_grad() && seen.insert(in.impl()).second)
        stack.emplace_back(in.impl_ptr(), 0);
      continue;
    }
    order.push_back(impl);
    stack.pop_back();
  }

  NoGradGuard no_grad;  // backward functions build no graph
  TensorImpl* r = root.impl();
  if (r->grad_fn) r->grad = seed.impl_ptr();
  else if (r->grad) Tensor(r->grad).add_(seed);
  else r->grad = seed.impl_ptr();

  for (size_t k = order.size(); k-- > 0;) {
    const std::shared_ptr<TensorImpl>& impl = order[k];
    Node* node = impl->grad_fn.get();
    if (!node) continue;  // a leaf: its accumulator is its .grad()
    std::shared_ptr<TensorImpl> g = std::move(impl->grad);
    if (g) {
      Tensor out(impl), grad_out(g);
      BackwardCtx ctx(*node, out, grad_out);
      if (backward_observer) {
        auto start = std::chrono::steady_clock::now();
        node->fn(ctx);
        backward_observer(*node, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      } else {
        node->fn(ctx);
      }
    }
    if (!retain_graph) {
      node->inputs.clear();
      node->fn = nullptr;
      node->released = true;
    }
  }
}

}  // namespace wick
