// trace_for_inference (trace_inference.h): the traced ops the output depends on become steps over
// value slots (the input, constants, results); BatchNorms are folded and ReLUs, poolings and adds
// absorbed into the convolutions before them, Linear products joined with their biases; then each
// step learns which slots it reads last, so that a forward frees every intermediate once read.
#include "layers/trace_inference.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "core/autograd.h"
#include "core/ops/conv.h"
#include "core/ops/elementwise.h"
#include "core/ops/group_norm.h"
#include "core/ops/index.h"
#include "core/ops/linalg.h"
#include "core/ops/loss.h"
#include "core/ops/norm.h"
#include "core/ops/pool.h"
#include "core/ops/unary.h"
#include "core/parallel.h"
#include "layers/containers.h"
#include "layers/fuse.h"
#include "layers/mode_guard.h"
#include "layers/trace_forward.h"

namespace wick::nn {
namespace {

const char* const kWho = "trace_for_inference";

// A batch of at least twice this many samples runs its convolutional part (ChunkPlan) as chunks of
// this many (the last one takes the remainder), in parallel, each through every step of that part
// before its core takes up another: a chunk's activations stay in the core's L2 cache from one
// layer to the next, where a whole batch's pass through L3 or memory (decisions.md). No chunk has
// one sample: a lone image's convolutions run in bands of rows, which may round differently.
constexpr int64_t kChunk = 8;
// With fewer convolutions, too few activations pass from layer to layer to pay for joining the
// chunks' results (small-cnn's two: 5% slower in chunks, the join a 3 MB copy).
constexpr size_t kChunkConvs = 3;

// One op of the replay: a traced op over value slots, a convolution ("conv", which may have
// absorbed a ReLU, a 2x2 max pooling and an add), or a Linear ("linear", x·Wᵀ + b in one call).
struct Step {
  trace::Op op;           // name, attributes and module path as traced; its tensors are not kept
  std::vector<int> in;    // the slots read, in the op's order (-1: an optional input not given)
  int out = -1;
  bool batched = false;   // reshape: its input's first dim is the batch, taken from the input
  bool relu = false, pool = false;
  int add = -1;           // conv: the slot added before the ReLU
  Tensor packed;          // conv: the weights as its kernel reads them
  std::vector<int> last;  // the slots no later step reads (freed once this one ran)
  bool dead = false;      // absorbed into another step, or not needed
};

// Which steps a large batch runs in chunks: steps [0, cut), through the last convolution and up to
// the first Linear or matmul after it (a chunk of a few rows would read its whole weight matrix for
// them); cut 0 when there are fewer than kChunkConvs convolutions or a step before the cut mixes
// samples. `carried` are the slots those steps make and later ones read (or the output), joined
// across the chunks.
struct ChunkPlan {
  size_t cut = 0;
  std::vector<int> carried;
};

const std::vector<int64_t>& ints(const Step& s, const char* name) { return attr_of(s.op, name, kWho).ints; }
double real(const Step& s, const char* name) { return attr_of(s.op, name, kWho).real; }
Size2 size2(const Step& s, const char* name) { return {ints(s, name).at(0), ints(s, name).at(1)}; }

using UnaryFn = Tensor (*)(const Tensor&);
UnaryFn unary(const std::string& name) {
  static const std::map<std::string, UnaryFn> ops{
      {"relu", wick::relu}, {"sigmoid", wick::sigmoid}, {"tanh", wick::tanh}, {"exp", wick::exp},
      {"log", wick::log},   {"sqrt", wick::sqrt},       {"abs", wick::abs},   {"neg", wick::neg}};
  auto it = ops.find(name);
  return it == ops.end() ? nullptr : it->second;
}

[[noreturn]] void cannot_replay(const std::string& op, const std::string& path) {
  detail::fail(kWho, ": ", where(path), ": the forward uses '", op, "', which ", kWho,
               " cannot replay (docs/modules.md lists the ops it can)");
}

bool replayable(const std::string& name) {
  static const std::set<std::string> ops{
      "clone",      "softmax",    "log_softmax", "leaky_relu", "clamp",      "pow",        "conv2d",
      "batch_norm", "batch_norm_relu", "group_norm", "layer_norm", "max_pool2d", "avg_pool2d",
      "adaptive_avg_pool2d", "reshape", "permute", "matmul", "add", "mul", "div"};
  return unary(name) || ops.count(name);
}

// One step's result from the slots it reads; batch is the input's first dim.
Tensor run(const Step& s, const std::vector<Tensor>& v, int64_t batch) {
  auto in = [&](size_t i) { return s.in.at(i) < 0 ? Tensor() : v[static_cast<size_t>(s.in[i])]; };
  const std::string name = s.op.name;
  if (name == "conv")
    return conv2d_affine(in(0), in(1), in(2), {}, {}, s.relu, size2(s, "stride"), size2(s, "padding"),
                         size2(s, "dilation"), ints(s, "groups").at(0), s.add < 0 ? Tensor() : v[s.add], s.pool,
                         s.packed);
  if (name == "linear") return linear(in(0), in(1), in(2));
  if (UnaryFn f = unary(name)) return f(in(0));
  if (name == "clone") return in(0);  // nothing in a replay writes in place
  if (name == "softmax") return softmax(in(0), ints(s, "dim").at(0));
  if (name == "log_softmax") return log_softmax(in(0), ints(s, "dim").at(0));
  if (name == "leaky_relu") return leaky_relu(in(0), real(s, "negative_slope"));
  if (name == "clamp") return clamp(in(0), real(s, "min"), real(s, "max"));
  if (name == "pow") return pow(in(0), real(s, "exponent"));
  if (name == "batch_norm") return batch_norm(in(0), in(3), in(4), in(1), in(2), false, 0.1, real(s, "eps"));
  if (name == "batch_norm_relu") return batch_norm_relu(in(0), in(3), in(4), in(1), in(2), false, 0.1, real(s, "eps"));
  if (name == "group_norm") return group_norm(in(0), ints(s, "num_groups").at(0), in(1), in(2), real(s, "eps"));
  if (name == "layer_norm") return layer_norm(in(0), ints(s, "normalized_shape"), in(1), in(2), real(s, "eps"));
  if (name == "max_pool2d")
    return max_pool2d(in(0), size2(s, "kernel_size"), size2(s, "stride"), size2(s, "padding"), size2(s, "dilation"),
                      ints(s, "ceil_mode").at(0) != 0);
  if (name == "avg_pool2d")
    return avg_pool2d(in(0), size2(s, "kernel_size"), size2(s, "stride"), size2(s, "padding"),
                      ints(s, "ceil_mode").at(0) != 0, ints(s, "count_include_pad").at(0) != 0);
  if (name == "adaptive_avg_pool2d") return adaptive_avg_pool2d(in(0), size2(s, "output_size"));
  if (name == "reshape") {
    Shape shape = ints(s, "shape");
    if (s.batched) shape[0] = batch;
    return in(0).reshape(shape);
  }
  if (name == "permute") return in(0).permute(ints(s, "dims"));
  if (name == "matmul") return matmul(in(0), in(1));
  if (name == "add") return add(in(0), in(1), real(s, "alpha"));
  if (name == "mul") return mul(in(0), in(1));
  if (name == "div") return div(in(0), in(1));
  detail::fail(kWho, ": internal: no replay for ", name);
}

// The replay: constants in their slots (the rest empty), the steps in order (a large batch's
// convolutional part in chunks: ChunkPlan), the output's slot.
class TracedInferenceImpl : public Module {
 public:
  TracedInferenceImpl(Shape sample, std::vector<Tensor> values, std::vector<Step> steps, int out, ChunkPlan plan)
      : sample_(std::move(sample)), values_(std::move(values)), steps_(std::move(steps)), out_(out),
        plan_(std::move(plan)) {
    Module::train(false);
  }
  std::string type_name() const override { return "TracedInference"; }
  void train(bool on) override {
    WICK_CHECK(!on, "TracedInference runs inference only; train the model it was traced from");
  }
  Tensor forward(const Tensor& x) override {
    WICK_CHECK(x.dim() == static_cast<int64_t>(sample_.size()) + 1 &&
                   std::equal(sample_.begin(), sample_.end(), x.shape().begin() + 1),
               "TracedInference: traced for inputs [N, ", shape_str(sample_).substr(1), ", got ", shape_str(x.shape()));
    NoGradGuard no_grad;
    std::vector<Tensor> v = values_;
    v[0] = x;
    const int64_t n = x.size(0), chunks = plan_.cut > 0 ? n / kChunk : 1;
    if (chunks > 1) {
      std::vector<std::vector<Tensor>> parts(plan_.carried.size(), std::vector<Tensor>(static_cast<size_t>(chunks)));
      parallel_for(0, chunks, 1, [&](int64_t q0, int64_t q1) {
        SerialScope serial;  // each chunk on one core, its layers one after the other
        NoGradGuard no_grad_here;  // grad mode is per thread: a worker's is its own
        for (int64_t q = q0; q < q1; ++q) {
          std::vector<Tensor> c = values_;
          const int64_t rows = q + 1 < chunks ? kChunk : n - q * kChunk;
          c[0] = x.narrow(0, q * kChunk, rows);
          replay(c, 0, plan_.cut, rows);
          for (size_t i = 0; i < plan_.carried.size(); ++i)
            parts[i][static_cast<size_t>(q)] = c[static_cast<size_t>(plan_.carried[i])];
        }
      });
      for (size_t i = 0; i < plan_.carried.size(); ++i) v[static_cast<size_t>(plan_.carried[i])] = cat(parts[i], 0);
    }
    replay(v, chunks > 1 ? plan_.cut : 0, steps_.size(), n);
    return v[static_cast<size_t>(out_)];
  }
  std::string extra_repr() const override {
    return std::to_string(steps_.size()) + " steps, input [N, " + shape_str(sample_).substr(1);
  }

 private:
  // Steps [from, to) on the values v of a batch of `batch`, in order, each intermediate freed once
  // its last reader ran.
  void replay(std::vector<Tensor>& v, size_t from, size_t to, int64_t batch) const {
    for (size_t i = from; i < to; ++i) {
      const Step& s = steps_[i];
      v[static_cast<size_t>(s.out)] = run(s, v, batch);
      for (int k : s.last) v[static_cast<size_t>(k)] = Tensor();
    }
  }

  Shape sample_;
  std::vector<Tensor> values_;
  std::vector<Step> steps_;
  int out_;
  ChunkPlan plan_;
};

// Turns a trace into steps, then fuses them (the order of the public comment).
class Builder {
 public:
  Builder(Module& model, const TracedForward& t) : t_(t) {
    for (const auto& [name, p] : model.named_parameters()) model_tensors_.insert(p.impl());
    for (const auto& [name, b] : model.named_buffers()) model_tensors_.insert(b.impl());
    for (const auto& [path, m] : model.named_modules())
      if (auto* bn = dynamic_cast<BatchNormImplBase*>(m.get()); bn && bn->running_mean.defined())
        batchnorms_[bn->running_mean.impl()] = bn;
    new_slot(Tensor(), nullptr, true, t.input.shape());  // slot 0: the input
    slot_of_[t.input.impl()] = 0;
  }

  void build() {
    const std::vector<bool> needed = needed_ops(t_);
    for (size_t i = 0; i < t_.ops.size(); ++i)
      if (needed[i]) add_step(t_.ops[i]);
    out_ = slot(t_.output, "");
    WICK_CHECK(batched_[static_cast<size_t>(out_)], kWho, ": the model's output (shape ", shape_str(t_.output.shape()),
               ") does not depend on its input");
  }

  std::shared_ptr<Module> finish(const Shape& sample, TraceInferenceReport* report) {
    fold_batchnorms();
    absorb();
    drop_unneeded();
    std::vector<int> last_step(values_.size(), -1);
    for (size_t i = 0; i < steps_.size(); ++i) {
      Step& s = steps_[i];
      if (s.op.name == std::string("conv"))
        s.packed = pack_conv2d_weight(value(s.in[1]), size2(s, "stride"), size2(s, "padding"), size2(s, "dilation"),
                                      ints(s, "groups").at(0));
      for (int k : reads(s)) last_step[static_cast<size_t>(k)] = static_cast<int>(i);
    }
    for (size_t k = 0; k < values_.size(); ++k)
      if (last_step[k] >= 0 && !values_[k].defined() && static_cast<int>(k) != out_)
        step(last_step[k]).last.push_back(static_cast<int>(k));
    if (report) {
      report->steps = static_cast<int64_t>(steps_.size());
      report->folded = folded_;
      report->fused = fused_;
    }
    ChunkPlan plan = chunk_plan();
    return std::make_shared<TracedInferenceImpl>(sample, std::move(values_), std::move(steps_), out_, std::move(plan));
  }

 private:
  int new_slot(Tensor constant, const TensorImpl* source, bool batched, Shape shape) {
    values_.push_back(std::move(constant));
    sources_.push_back(source);
    batched_.push_back(batched);
    shapes_.push_back(std::move(shape));
    return static_cast<int>(values_.size()) - 1;
  }

  const Tensor& value(int k) const { return values_[static_cast<size_t>(k)]; }  // a constant, or undefined
  const Shape& shape(int k) const { return shapes_[static_cast<size_t>(k)]; }
  Step& step(int i) { return steps_[static_cast<size_t>(i)]; }

  // The slot of a traced op's input: the input, an earlier step's result, or a constant (a copy of
  // a parameter or buffer, or a one-element tensor).
  int slot(const Tensor& x, const std::string& path) {
    if (!x.defined()) return -1;
    if (auto it = slot_of_.find(x.impl()); it != slot_of_.end()) return it->second;
    if (auto it = t_.made.find(x.impl()); it != t_.made.end()) cannot_replay(it->second.name, it->second.path);
    WICK_CHECK(model_tensors_.count(x.impl()) || x.numel() == 1, kWho, ": ", where(path),
               ": the forward uses a tensor of shape ", shape_str(x.shape()),
               " that is neither the input, a parameter or buffer, nor computed from them by an op it replays");
    return slot_of_[x.impl()] = new_slot(x.detach().contiguous().clone(), x.impl(), false, x.shape());
  }

  void add_step(const trace::Op& op) {
    const std::string name = op.name;
    if (!replayable(name)) cannot_replay(name, op.path);
    Step s;
    s.op = {op.name, {}, Tensor(), op.attrs, op.path};
    bool batched = false;
    for (const Tensor& x : op.inputs) {
      s.in.push_back(slot(x, op.path));
      batched = batched || (s.in.back() >= 0 && batched_[static_cast<size_t>(s.in.back())]);
    }
    const Shape& xs = op.inputs.at(0).shape();
    if (name == "reshape" && batched) {
      const auto& shape = ints(s, "shape");
      WICK_CHECK(!shape.empty() && !xs.empty() && shape[0] == xs[0], kWho, ": ", where(op.path), ": a reshape from ",
                 shape_str(xs), " to ", shape_str(shape), " changes the batch dimension, which the replay leaves free");
      s.batched = true;
    }
    if (name == "permute" && batched)
      WICK_CHECK(ints(s, "dims").at(0) == 0, kWho, ": ", where(op.path), ": a permute ", shape_str(ints(s, "dims")),
                 " moves the batch dimension, which the replay leaves free");
    if (name == "batch_norm" || name == "batch_norm_relu")
      WICK_CHECK(!ints(s, "training").at(0), kWho, ": ", where(op.path),
                 ": this batch norm normalizes with each batch's statistics; the replay needs running statistics");
    if (name == "conv2d") s.op.name = "conv";
    s.out = new_slot(Tensor(), nullptr, batched, op.out.shape());
    slot_of_[op.out.impl()] = s.out;
    steps_.push_back(std::move(s));
  }

  ChunkPlan chunk_plan() const {
    ChunkPlan plan;
    size_t last_conv = 0, convs = 0;
    for (size_t i = 0; i < steps_.size(); ++i)
      if (steps_[i].op.name == std::string("conv")) last_conv = i, ++convs;
    if (convs < kChunkConvs) return plan;
    size_t cut = last_conv + 1;
    while (cut < steps_.size() && steps_[cut].op.name != std::string("linear") &&
           steps_[cut].op.name != std::string("matmul"))
      ++cut;
    if (std::any_of(steps_.begin(), steps_.begin() + static_cast<std::ptrdiff_t>(cut),
                    [&](const Step& s) { return mixes_samples(s); }))
      return plan;
    std::vector<bool> made(values_.size(), false), read_after(values_.size(), false);
    for (size_t i = 0; i < cut; ++i) made[static_cast<size_t>(steps_[i].out)] = true;
    for (size_t i = cut; i < steps_.size(); ++i)
      for (int k : reads(steps_[i])) read_after[static_cast<size_t>(k)] = true;
    read_after[static_cast<size_t>(out_)] = true;
    plan.cut = cut;
    for (size_t k = 0; k < values_.size(); ++k)
      if (made[k] && read_after[k]) plan.carried.push_back(static_cast<int>(k));
    return plan;
  }

  // Whether a step's result for one sample may depend on another's (so the batch cannot be cut):
  // a softmax or layer_norm over the batch dim, a matmul with a batched matrix (not a batch of
  // them) on the right or a batched vector on the left, and a broadcast whose operand does not
  // align its first dim, of 1 or the batch, with the result's.
  bool mixes_samples(const Step& s) const {
    const auto batched = [&](int k) { return k >= 0 && batched_[static_cast<size_t>(k)]; };
    if (!batched(s.out)) return false;
    const std::string name = s.op.name;
    const auto rank = [&](int k) { return static_cast<int64_t>(shape(k).size()); };
    if (name == "softmax" || name == "log_softmax") {
      const int64_t d = ints(s, "dim").at(0);
      return d == 0 || d == -rank(s.in.at(0));
    }
    if (name == "layer_norm") return static_cast<int64_t>(ints(s, "normalized_shape").size()) >= rank(s.in.at(0));
    if (name == "matmul")
      return (batched(s.in.at(1)) && rank(s.in.at(1)) < 3) || (batched(s.in.at(0)) && rank(s.in.at(0)) < 2);
    if (name == "add" || name == "mul" || name == "div")
      for (int k : s.in) {
        if (k < 0) continue;
        if (rank(k) < rank(s.out) ? batched(k) : !batched(k) && shape(k).at(0) != 1) return true;
      }
    return false;
  }

  static std::vector<int> reads(const Step& s) {
    std::vector<int> r;
    for (int k : s.in)
      if (k >= 0) r.push_back(k);
    if (s.add >= 0) r.push_back(s.add);
    return r;
  }

  // How many live steps (and the output) read each slot, and which live step makes it.
  void count() {
    uses_.assign(values_.size(), 0);
    maker_.assign(values_.size(), -1);
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (steps_[i].dead) continue;
      for (int k : reads(steps_[i])) ++uses_[static_cast<size_t>(k)];
      maker_[static_cast<size_t>(steps_[i].out)] = static_cast<int>(i);
    }
    ++uses_[static_cast<size_t>(out_)];
  }

  // The live step whose result step `j` reads in its input `i` and nothing else reads, or null.
  Step* sole_maker(size_t j, size_t i, const char* name) {
    const int k = steps_[j].in.at(i);
    if (k < 0 || uses_[static_cast<size_t>(k)] != 1) return nullptr;
    const int m = maker_[static_cast<size_t>(k)];
    return m >= 0 && steps_[static_cast<size_t>(m)].op.name == std::string(name) ? &steps_[static_cast<size_t>(m)]
                                                                                  : nullptr;
  }

  // Moves `into` (a conv or linear) to step j's place, taking j's result: every slot `into` reads
  // was made before it, so it still is at j.
  void absorb_at(size_t j, Step& into) {
    into.out = steps_[j].out;
    Step moved = std::move(into);
    into.dead = true;
    steps_[j] = std::move(moved);
    count();
  }

  // BatchNorms of a module, on running statistics, whose input only a convolution reads: folded.
  void fold_batchnorms() {
    count();
    for (size_t j = 0; j < steps_.size(); ++j) {
      const Step& bn = steps_[j];
      const std::string name = bn.op.name;
      if (bn.dead || (name != "batch_norm" && name != "batch_norm_relu")) continue;
      Step* conv = sole_maker(j, 0, "conv");
      auto it = batchnorms_.find(sources_[static_cast<size_t>(bn.in[3])]);
      if (!conv || conv->relu || conv->pool || conv->add >= 0 || it == batchnorms_.end()) continue;
      BatchNormImplBase& module = *it->second;
      auto source = [&](int k) { return k < 0 ? nullptr : sources_[static_cast<size_t>(k)]; };
      auto impl = [](const Tensor& x) { return x.defined() ? x.impl() : nullptr; };
      if (source(bn.in[1]) != impl(module.weight) || source(bn.in[2]) != impl(module.bias) ||
          source(bn.in[4]) != impl(module.running_var) || !value(conv->in[1]).defined())
        continue;  // not that module's own call, or a weight computed in the forward
      const Tensor w = value(conv->in[1]);
      const Tensor b = conv->in[2] < 0 ? Tensor() : value(conv->in[2]);
      if (conv->in[2] >= 0 && !b.defined()) continue;
      Tensor fw = empty(w.shape()), fb = empty({w.size(0)});
      fold_into(w, b, fw, fb, module);
      conv->in[1] = new_slot(fw, nullptr, false, fw.shape());
      conv->in[2] = new_slot(fb, nullptr, false, fb.shape());
      conv->relu = name == "batch_norm_relu";
      uses_.resize(values_.size(), 0);
      maker_.resize(values_.size(), -1);
      absorb_at(j, *conv);
      ++folded_;
    }
  }

  // A conv's ReLU, 2x2 max pooling and add (each its result's only reader), and a Linear's bias.
  void absorb() {
    count();
    for (size_t j = 0; j < steps_.size(); ++j) {
      const Step& s = steps_[j];
      const std::string name = s.op.name;
      if (s.dead) continue;
      if (name == "relu") {
        if (Step* conv = sole_maker(j, 0, "conv"); conv && !conv->relu) {
          conv->relu = true;
          absorb_at(j, *conv);
          ++fused_;
        }
      } else if (name == "max_pool2d") {
        Step* conv = sole_maker(j, 0, "conv");
        if (conv && !conv->pool && conv->add < 0 && ints(s, "kernel_size") == std::vector<int64_t>{2, 2} &&
            ints(s, "stride") == std::vector<int64_t>{2, 2} && ints(s, "padding") == std::vector<int64_t>{0, 0} &&
            ints(s, "dilation") == std::vector<int64_t>{1, 1} && !ints(s, "ceil_mode").at(0)) {
          conv->pool = true;
          absorb_at(j, *conv);
          ++fused_;
        }
      } else if (name == "add" && real(s, "alpha") == 1.0) {
        absorb_add(j);
      } else if (name == "matmul") {
        to_linear(j);
      }
    }
  }

  // add(a, b) where a convolution's result, read by nothing else, is one side and the other has its
  // shape: the conv adds it (a + b = b + a in floating point too). A Linear's 1-D bias the same way.
  void absorb_add(size_t j) {
    for (size_t side : {size_t{0}, size_t{1}}) {
      const int other = steps_[j].in.at(1 - side);
      if (Step* conv = sole_maker(j, side, "conv"); conv && !conv->relu && !conv->pool && conv->add < 0 &&
                                                   shape(other) ==
                                                       shape(conv->out)) {
        conv->add = other;
        absorb_at(j, *conv);
        ++fused_;
        return;
      }
    }
    Step* lin = sole_maker(j, 0, "linear");
    const int b = steps_[j].in.at(1);
    if (lin && lin->in.size() == 2 && value(b).defined() && shape(b).size() == 1 &&
        shape(b)[0] == shape(lin->out).back()) {
      lin->in.push_back(b);
      absorb_at(j, *lin);
      ++fused_;
    }
  }

  // matmul(x, permute(W, {1, 0})) of a 2-D x and a constant W (a Linear's product): linear(x, W).
  void to_linear(size_t j) {
    Step& mm = steps_[j];
    const int x = mm.in.at(0), p = mm.in.at(1);
    const int pm = p < 0 ? -1 : maker_[static_cast<size_t>(p)];
    if (shape(x).size() != 2 || pm < 0) return;
    const Step& perm = step(pm);
    if (perm.op.name != std::string("permute") || ints(perm, "dims") != std::vector<int64_t>{1, 0}) return;
    const int w = perm.in.at(0);
    if (!value(w).defined() || shape(w).size() != 2) return;
    mm.op = {"linear", {}, Tensor(), {}, mm.op.path};
    mm.in = {x, w};
    count();
  }

  // Drops the steps the output no longer needs (a Linear's transpose once it is a linear).
  void drop_unneeded() {
    count();
    std::vector<bool> needed(values_.size(), false);
    needed[static_cast<size_t>(out_)] = true;
    for (size_t i = steps_.size(); i-- > 0;) {
      Step& s = steps_[i];
      if (s.dead || !needed[static_cast<size_t>(s.out)]) {
        s.dead = true;
        continue;
      }
      for (int k : reads(s)) needed[static_cast<size_t>(k)] = true;
    }
    std::erase_if(steps_, [](const Step& s) { return s.dead; });
  }

  const TracedForward& t_;
  std::set<const TensorImpl*> model_tensors_;
  std::unordered_map<const TensorImpl*, BatchNormImplBase*> batchnorms_;
  std::unordered_map<const TensorImpl*, int> slot_of_;
  std::vector<Tensor> values_;                // constants (undefined for the input and results)
  std::vector<const TensorImpl*> sources_;    // the model tensor each constant copies, or null
  std::vector<bool> batched_;                 // depends on the input
  std::vector<Shape> shapes_;                 // as traced
  std::vector<Step> steps_;
  std::vector<int> uses_, maker_;
  int out_ = -1;
  int64_t folded_ = 0, fused_ = 0;
};

}  // namespace

std::shared_ptr<Module> trace_for_inference(Module& model, const Shape& sample_shape, TraceInferenceReport* report) {
  ModeGuard eval(model, false);  // folding reads the BatchNorms' eval-mode statistics too
  const TracedForward traced = trace_forward(model, sample_shape, kWho);
  NoGradGuard no_grad;
  Builder builder(model, traced);
  builder.build();
  return builder.finish(sample_shape, report);
}

bool has_own_forward(Module& model) {
  for (const auto& [path, m] : model.named_modules())
    if (!m->named_children().empty() && !dynamic_cast<ListImpl*>(m.get()) && !dynamic_cast<ResidualImpl*>(m.get()))
      return true;
  return false;
}

}  // namespace wick::nn
