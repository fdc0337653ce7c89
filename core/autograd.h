// Reverse-mode autograd: the graph node each differentiable op attaches to its output, the
// context a backward function sees, grad mode (NoGradGuard), and the engine behind backward().
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tensor.h"

namespace wick {

class BackwardCtx;
using BackwardFn = std::function<void(BackwardCtx&)>;
struct Node;

// Where the gradient of one op input goes: into `node`, the input's producer, when the input was
// computed by a recorded op; into `leaf`'s .grad() when it is a leaf that requires grad; nowhere
// when both are null. An edge holds no activation: a node keeps only what it saved.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool requires_grad() const { return node || leaf; }
};

// A value a backward reads: an alias of the tensor's storage (no graph reference, so an op may
// save its own result without a cycle) and the storage version it had when saved. The result of a
// node that can make it again (Node::recompute) is not kept: `value` stays empty, `recompute` is
// set, and `storage` still lets the backward see an in-place change while the tensor lives.
struct SavedTensor {
  Tensor value;
  uint64_t version = 0;
  bool recompute = false;  // made again by the producer's Node::recompute (an input's, or this node's)
  std::weak_ptr<Storage> storage;
};

// What an op's backward reads besides the output's gradient. Nothing else the forward touched is
// kept alive by the graph, so activations no backward needs are freed as soon as the caller drops
// them.
struct Saves {
  std::vector<size_t> inputs;  // inputs read through BackwardCtx::input
  bool out = false;            // the op's result, read through BackwardCtx::out
};

struct Node {
  const char* name;                       // the op, for error messages
  std::vector<Edge> next;                 // one per op input, in the op's order
  std::vector<SavedTensor> saved_inputs;  // one per op input; undefined where not saved
  SavedTensor saved_out;
  Shape shape;                        // the output's (and its gradient's) shape
  std::shared_ptr<TensorImpl> grad;   // the output's gradient, accumulated during backward
  BackwardFn fn;
  bool released = false;  // set after a backward that did not retain the graph
  // Activation recomputation. Set by an op whose result is cheap to make again, bit for bit, from
  // what its node saved (a batch norm's per-channel map; an elementwise op of such a result): an op
  // that saves this result keeps the recipe instead of the value, so the activation is freed after
  // the forward. The backward makes it at most once, into `remade`, dropped after this node's own
  // backward has run (the last to need it: its consumers run before it).
  std::function<Tensor(const Node&)> recompute;
  Tensor remade;
};

// What a backward function sees. It reads the output's gradient and adds (never assigns) each
// input's gradient into grad_in(i), a contiguous buffer of that input's shape.
class BackwardCtx {
 public:
  BackwardCtx(Node& node, const Tensor& grad_out) : node_(node), grad_out_(grad_out), grads_(node.next.size()) {}
  const Tensor& grad_out() const { return grad_out_; }  // contiguous, the output's shape
  const Tensor& out() const;                           // the op's result (saved), checked unmodified
  const Tensor& input(size_t i) const;                 // a saved input, checked unmodified
  bool needs_grad(size_t i) const { return node_.next.at(i).requires_grad(); }
  Tensor& grad_in(size_t i);  // zero-initialized on first use
  // For a backward that writes every element of input i's gradient: when input i has no
  // accumulator yet, one is made WITHOUT zeroing and `assign` is set, so the caller stores rather
  // than adds (saving a pass over memory); otherwise this is grad_in(i) and `assign` is false.
  // The caller must finish writing before asking for another input's gradient.
  Tensor& grad_in_or_new(size_t i, bool& assign);
  // When input i has no accumulator yet and the output's shape, makes the output's gradient that
  // accumulator as it is (no copy: the gradient of an add, say, passes through) and returns true.
  // The caller must not write into grad_out() afterwards.
  bool pass_grad_out(size_t i);

 private:
  Node& node_;
  const Tensor& grad_out_;
  std::vector<Tensor> grads_;  // handles on the inputs' accumulators, filled on first use
};

bool is_grad_enabled();
void set_grad_enabled(bool on);

// While alive, ops record no graph (results need no grad), as torch.no_grad().
class NoGradGuard {
 public:
  NoGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and some input requires grad: the op must record a node.
bool should_record(std::initializer_list<const Tensor*> inputs);
bool should_record(const std::vector<Tensor>& inputs);

// For a product of inputs 0 and 1 (mul, matmul, conv2d), where each input's gradient reads the
// other's value: each is saved only when the other requires grad.
Saves product_saves(const Tensor& a, const Tensor& b);

// The inputs of a normalization of x with an optional weight and bias: {x, weight, bias} without
// the undefined ones, where weight and bias sit among them (-1: undefined), and Saves keeping x
// and the weight (what the input gradient reads).
struct AffineInputs {
  std::vector<Tensor> inputs;
  int iw = -1, ib = -1;
  Saves saves;
};
AffineInputs affine_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias);

// Attaches `fn` as the backward of `out` when should_record(inputs); `out` then requires grad.
// `saves` names what fn reads through BackwardCtx::input and ::out; the graph keeps nothing else.
void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn, const Saves& saves = {});

// Makes the result `out` of the op that has just recorded it recomputable (Node::recompute), when
// it was recorded: `fn` gets that node and returns a new tensor of out's values, bit for bit.
void set_recompute(const Tensor& out, std::function<Tensor(const Node&)> fn);
// For recompute functions: a node's saved input i, checked unmodified; and true when t is the
// whole result of a recomputable node (what an elementwise op of t may build its own recipe on).
const Tensor& saved_input(const Node& node, size_t i);
bool is_recomputable(const Tensor& t);

// Calls `hook` during every backward() that reaches `leaf` (a leaf that requires grad), right after
// the last node that adds into its gradient has run: its grad() is then final for that backward
// (PyTorch's register_post_accumulate_grad_hook). Data-parallel training starts sending a
// gradient from there while the backward goes on. An empty hook removes it.
void set_post_accumulate_grad_hook(const Tensor& leaf, std::function<void()> hook);

// The engine behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// Profiling (wick bench --profile): when set, run_backward calls `observer` after each node's
// backward function with the node and the seconds that function took. Empty (the default) costs
// one test per node. Not thread-safe: set it while no backward runs.
using BackwardObserver = std::function<void(const Node& node, double seconds)>;
void set_backward_observer(BackwardObserver observer);

// Refuses an in-place write to `t` that autograd could not track (names the op).
void check_inplace(const Tensor& t, const char* op);

}  // namespace wick
