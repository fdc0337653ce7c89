// trace_forward: the sample batch, the BatchNorm check, and the recorder of traced ops and
// autograd nodes.
#include "layers/trace_forward.h"

#include <cmath>

#include "core/autograd.h"
#include "layers/batchnorm.h"
#include "layers/mode_guard.h"

namespace wick::nn {
namespace {

constexpr int64_t kMaxSampleElements = int64_t(1) << 26;  // per input, so the trace batch stays small

class Recorder : public trace::Tracer {
 public:
  explicit Recorder(TracedForward& t) : t_(t) {}
  void record(trace::Op op) override { t_.ops.push_back(std::move(op)); }
  void node(const char* name, const Tensor& out, const std::string& path) override {
    t_.made[out.impl()] = {name, out, path};
  }

 private:
  TracedForward& t_;
};

// Refuses BatchNorms whose eval forward uses batch statistics, by module path, before tracing.
void check_batchnorms(Module& model, const std::string& who) {
  for (const auto& [path, m] : model.named_modules()) {
    auto* bn = dynamic_cast<BatchNormImplBase*>(m.get());
    if (!bn) continue;
    WICK_CHECK(bn->mode() != BatchNormMode::BatchStats, who, ": ", where(path),
               ": this BatchNorm is in batch-stats mode (each batch's own statistics); ", who,
               " needs running statistics: set its mode to auto or frozen first");
    WICK_CHECK(bn->running_mean.defined(), who, ": ", where(path),
               ": this BatchNorm has no running statistics (track_running_stats false), so it normalizes with each "
               "batch's statistics; ", who, " needs running statistics");
  }
}

// Grad mode on while alive, then back as it was.
struct GradEnabled {
  GradEnabled() : before(is_grad_enabled()) { set_grad_enabled(true); }
  ~GradEnabled() { set_grad_enabled(before); }
  bool before;
};

// A deterministic sample batch (the global random stream is left alone).
Tensor sample_batch(const Shape& sample_shape) {
  Shape shape{kTraceBatch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 0.3));
  return from_vector(v, shape);
}

}  // namespace

std::vector<bool> needed_ops(const TracedForward& t) {
  std::unordered_map<const TensorImpl*, size_t> producer;
  for (size_t i = 0; i < t.ops.size(); ++i) producer[t.ops[i].out.impl()] = i;
  std::vector<bool> needed(t.ops.size(), false);
  std::vector<const Tensor*> todo{&t.output};
  while (!todo.empty()) {
    const Tensor* x = todo.back();
    todo.pop_back();
    auto it = x->defined() ? producer.find(x->impl()) : producer.end();
    if (it == producer.end() || needed[it->second]) continue;
    needed[it->second] = true;
    for (const Tensor& in : t.ops[it->second].inputs) todo.push_back(&in);
  }
  return needed;
}

std::string where(const std::string& path) { return path.empty() ? "the model" : path; }

const trace::Attr& attr_of(const trace::Op& op, const std::string& name, const std::string& who) {
  for (const auto& a : op.attrs)
    if (name == a.name) return a;
  detail::fail(who, ": internal: op ", op.name, " was traced without its attribute ", name);
}

TracedForward trace_forward(Module& model, const Shape& sample_shape, const std::string& who) {
  WICK_CHECK(!sample_shape.empty(), who, ": the sample shape (one input without its batch dim) is empty");
  int64_t elements = 1;
  for (int64_t d : sample_shape) {
    WICK_CHECK(d > 0 && d <= kMaxSampleElements / elements, who, ": sample shape ", shape_str(sample_shape),
               " must have positive dims and at most ", kMaxSampleElements, " elements");
    elements *= d;
  }
  check_batchnorms(model, who);
  TracedForward t;
  t.input = sample_batch(sample_shape).requires_grad_();
  {
    Recorder recorder(t);
    ModeGuard eval(model, false);
    GradEnabled grad;  // every op then records its autograd node, which names ops a reader lacks
    trace::Scope scope(recorder);
    t.output = model.forward(t.input);
  }
  const Tensor& out = t.output;
  WICK_CHECK(out.defined() && out.dim() >= 1 && out.size(0) == kTraceBatch, who, ": the model's output for a batch of ",
             kTraceBatch, " has shape ", out.defined() ? shape_str(out.shape()) : "(undefined)",
             "; it must return one row per input");
  return t;
}

}  // namespace wick::nn
