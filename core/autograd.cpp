// The autograd engine: grad mode, recording nodes, and backward() walking the graph in reverse
// topological order, each node adding its inputs' gradients into their accumulators.
#include "core/autograd.h"

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "core/trace.h"

namespace wick {
namespace {

thread_local bool grad_enabled = true;
BackwardObserver backward_observer;

// `maker`: for a value saved as a recipe, the node whose result it is.
void check_version(const Node& node, const SavedTensor& saved, const char* what, const Node* maker = nullptr) {
  WICK_CHECK(saved.value.defined() || saved.recompute, "backward of ", node.name, ": ", what,
             " was not saved by its forward (a bug in that op: list it in its Saves)");
  const std::shared_ptr<Storage> storage = saved.recompute ? saved.storage.lock() : saved.value.impl()->storage;
  WICK_CHECK(!storage || storage->version == saved.version, "backward of ", node.name, ": a tensor it saved (shape ",
             shape_str(saved.recompute ? maker->shape : saved.value.shape()),
             ") was modified by an in-place operation after the forward pass");
}

// Where the gradient of an edge's input accumulates (null when it needs none), and its shape.
std::shared_ptr<TensorImpl>* accumulator(const Edge& e) {
  return e.node ? &e.node->grad : e.leaf ? &e.leaf->grad : nullptr;
}
const Shape& grad_shape(const Edge& e) { return e.node ? e.node->shape : e.leaf->shape; }

// The value, or only its recipe when t is the whole result of a recomputable node.
SavedTensor save(const Tensor& t) {
  if (is_recomputable(t)) return {Tensor(), t.impl()->storage->version, true, t.impl()->storage};
  return {t.detach(), t.impl()->storage->version};
}

// The result of `node` made again, kept in node.remade for the rest of the backward's use of it.
const Tensor& remade(Node& node) {
  WICK_CHECK(node.recompute, "backward: ", node.name, " already released what it saved; pass retain_graph=true");
  if (!node.remade.defined()) node.remade = node.recompute(node);
  return node.remade;
}

}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool on) { grad_enabled = on; }
void set_backward_observer(BackwardObserver observer) { backward_observer = std::move(observer); }

const Tensor& BackwardCtx::out() const {
  check_version(node_, node_.saved_out, "its result", &node_);
  return node_.saved_out.recompute ? remade(node_) : node_.saved_out.value;
}

const Tensor& BackwardCtx::input(size_t i) const {
  const SavedTensor& saved = node_.saved_inputs.at(i);
  check_version(node_, saved, "an input it reads", node_.next[i].node.get());
  return saved.recompute ? remade(*node_.next[i].node) : saved.value;
}

const Tensor& saved_input(const Node& node, size_t i) {
  const SavedTensor& saved = node.saved_inputs.at(i);
  WICK_CHECK(!saved.recompute, "recompute of ", node.name, ": input ", i, " is itself recomputed");
  check_version(node, saved, "an input it reads");
  return saved.value;
}

bool is_recomputable(const Tensor& t) {
  const std::shared_ptr<Node>& node = t.grad_fn();
  return node && node->recompute && t.is_contiguous() && t.impl()->offset == 0 && t.shape() == node->shape;
}

Tensor& BackwardCtx::grad_in(size_t i) {
  const Edge& e = node_.next.at(i);
  WICK_CHECK(e.requires_grad(), "backward of ", node_.name, ": input ", i, " needs no gradient");
  std::shared_ptr<TensorImpl>& acc = *accumulator(e);
  if (!acc) acc = zeros(grad_shape(e)).impl_ptr();
  if (!grads_[i].defined()) grads_[i] = Tensor(acc);
  return grads_[i];
}

Tensor& BackwardCtx::grad_in_or_new(size_t i, bool& assign) {
  const Edge& e = node_.next.at(i);
  std::shared_ptr<TensorImpl>* acc = accumulator(e);
  assign = acc && !*acc;
  if (assign) *acc = empty(grad_shape(e)).impl_ptr();
  return grad_in(i);
}

bool BackwardCtx::pass_grad_out(size_t i) {
  const Edge& e = node_.next.at(i);
  std::shared_ptr<TensorImpl>* acc = accumulator(e);
  if (!acc || *acc || grad_out_.shape() != grad_shape(e)) return false;
  *acc = grad_out_.impl_ptr();  // the engine drops its own handle once this node has run
  return true;
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

Saves product_saves(const Tensor& a, const Tensor& b) {
  Saves s;
  if (b.defined() && b.requires_grad()) s.inputs.push_back(0);
  if (a.defined() && a.requires_grad()) s.inputs.push_back(1);
  return s;
}

AffineInputs affine_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  AffineInputs a{{x}, -1, -1, Saves{.inputs = {0}}};
  if (weight.defined()) {
    a.iw = static_cast<int>(a.inputs.size());
    a.inputs.push_back(weight);
    a.saves.inputs.push_back(static_cast<size_t>(a.iw));
  }
  if (bias.defined()) {
    a.ib = static_cast<int>(a.inputs.size());
    a.inputs.push_back(bias);
  }
  return a;
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn, const Saves& saves) {
  if (trace::active()) trace::node(name, out);  // also ops in no-grad code: the tracer must see every op
  if (!should_record(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->next.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].grad_fn()) node->next[i].node = inputs[i].grad_fn();
    else node->next[i].leaf = inputs[i].impl_ptr();
  }
  node->saved_inputs.resize(inputs.size());
  for (size_t i : saves.inputs) {
    WICK_CHECK(i < inputs.size() && inputs[i].defined(), "record ", name, ": Saves lists input ", i,
               ", which is not a defined input of the op");
    node->saved_inputs[i] = save(inputs[i]);
  }
  if (saves.out) node->saved_out = save(out);
  node->shape = out.shape();
  node->fn = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

void set_recompute(const Tensor& out, std::function<Tensor(const Node&)> fn) {
  Node* node = out.grad_fn().get();
  if (!node) return;  // not recorded (no grad needed)
  node->recompute = std::move(fn);
  if (node->saved_out.value.defined()) node->saved_out = save(out);  // now only its recipe
}

void check_inplace(const Tensor& t, const char* op) {
  if (!grad_enabled || !t.requires_grad()) return;
  WICK_CHECK(!t.is_leaf(), op, ": a leaf tensor that requires grad (shape ", shape_str(t.shape()),
             ") cannot be modified in place while grad mode is on; use NoGradGuard");
  detail::fail(op, ": in-place update of a tensor inside the autograd graph (shape ",
               shape_str(t.shape()), ") is not supported");
}

void set_post_accumulate_grad_hook(const Tensor& leaf, std::function<void()> hook) {
  WICK_CHECK(leaf.is_leaf() && leaf.requires_grad(),
             "set_post_accumulate_grad_hook: needs a leaf tensor that requires grad (a parameter)");
  leaf.impl()->post_accumulate_grad_hook =
      hook ? std::make_shared<const std::function<void()>>(std::move(hook)) : nullptr;
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

  NoGradGuard no_grad;  // backward functions build no graph
  TensorImpl* r = root.impl();
  if (!r->grad_fn) {  // a leaf: the seed is its whole gradient
    if (r->grad) Tensor(r->grad).add_(seed);
    else r->grad = seed.impl_ptr();
    return;
  }

  // Reverse topological order by an iterative depth-first search over nodes.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{r->grad_fn, 0}};
  seen.insert(r->grad_fn.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (node->released)
      detail::fail("backward: trying to backward through the graph a second time (", node->name,
                   " already released its saved tensors); pass retain_graph=true the first time");
    if (next < node->next.size()) {
      const std::shared_ptr<Node>& in = node->next[next++].node;
      if (in && seen.insert(in.get()).second) stack.emplace_back(in, 0);
      continue;
    }
    order.push_back(node);
    stack.pop_back();
  }

  // Leaves with a post-accumulate hook: how many nodes still add into each.
  std::unordered_map<TensorImpl*, int> pending;
  for (const auto& node : order)
    for (const Edge& e : node->next)
      if (e.leaf && e.leaf->post_accumulate_grad_hook) ++pending[e.leaf.get()];

  r->grad_fn->grad = seed.impl_ptr();
  // Each node runs once all its consumers have added into its gradient; without retain_graph it
  // then drops what it saved, so activations are freed as the backward walks down the network.
  // If a backward throws, the partial gradients of the nodes not yet run are dropped, so that a
  // retried backward through a retained graph does not add them in again.
  size_t k = order.size();
  struct DropPartials {
    std::vector<std::shared_ptr<Node>>& order;
    size_t& k;
    ~DropPartials() {
      for (size_t j = 0; j < k; ++j)
        if (order[j]) order[j]->grad.reset();
    }
  } drop_partials{order, k};
  while (k > 0) {
    std::shared_ptr<Node> node = std::move(order[--k]);
    const Tensor grad_out(std::move(node->grad));
    if (grad_out.defined()) {
      BackwardCtx ctx(*node, grad_out);
      if (backward_observer) {
        auto start = std::chrono::steady_clock::now();
        node->fn(ctx);
        backward_observer(*node, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      } else {
        node->fn(ctx);
      }
    }
    node->remade = {};
    if (!pending.empty())
      for (const Edge& e : node->next)
        if (e.leaf && e.leaf->post_accumulate_grad_hook && --pending[e.leaf.get()] == 0)
          (*e.leaf->post_accumulate_grad_hook)();
    if (!retain_graph) {
      node->next.clear();
      node->saved_inputs.clear();
      node->saved_out = {};
      node->fn = nullptr;
      node->recompute = nullptr;
      node->released = true;
    }
  }
}

}  // namespace wick
