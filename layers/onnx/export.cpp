// ONNX export (export.h): trace the eval forward (layers/trace_forward.h), translate each traced op the
// output depends on into ONNX nodes over named values, fold BatchNorms on request, drop what the
// output does not need, then build the protobuf, check it with ONNX's checker and its strict shape
// inference, and write it atomically.
#include "layers/onnx/export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/autograd.h"
#include "core/trace.h"
#include "layers/trace_forward.h"

namespace wick::nn {
namespace {

constexpr int64_t kMinOpset = 13;  // Unsqueeze and Squeeze take their axes as an input from 13

struct Attr {
  enum Kind { Int, Ints, Float };
  std::string name;
  Kind kind;
  std::vector<int64_t> ints;
  double real = 0;
};
Attr int_attr(const std::string& name, int64_t v) { return {name, Attr::Int, {v}}; }
Attr ints_attr(const std::string& name, std::vector<int64_t> v) { return {name, Attr::Ints, std::move(v)}; }
Attr float_attr(const std::string& name, double v) { return {name, Attr::Float, {}, v}; }

struct Node {
  std::string op, name;
  std::vector<std::string> in, out;
  std::vector<Attr> attrs;
};

// A constant: float32 values (a wick tensor) or int64 ones (shapes, axes).
struct Initializer {
  Tensor floats;
  std::vector<int64_t> ints, shape;
};

const trace::Attr& attr_of(const trace::Op& op, const std::string& name) {
  return nn::attr_of(op, name, "export_onnx");
}

// The module prefix of a tensor name ("layer1.0.bn1.running_mean" -> "layer1.0.bn1").
std::string prefix_of(const std::string& key) {
  size_t dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

// The ONNX graph under construction: nodes over named values, and the initializers they read.
class Graph {
 public:
  Graph(const Module& model, const TracedForward& traced, int64_t opset)
      : opset_(opset), traced_(traced) {
    for (const auto& [name, t] : model.named_parameters()) params_[t.impl()] = name;
    for (const auto& [name, t] : model.named_buffers()) params_[t.impl()] = name;
    for (const auto& [t, name] : params_) taken_[name] = 1;  // generated names never take a key
    values_[traced.input.impl()] = "input";
    batched_.insert("input");
  }

  // Translates the traced ops the output depends on, in the order they ran, and names its value
  // "output".
  void build() {
    const std::vector<trace::Op>& ops = traced_.ops;
    const Tensor& out = traced_.output;
    const std::vector<bool> needed = needed_ops(traced_);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!needed[i]) continue;
      for (const Tensor& in : ops[i].inputs)
        if (in.defined()) ++uses_[in.impl()];
      producer_op_[ops[i].out.impl()] = &ops[i];
    }
    ++uses_[out.impl()];
    for (size_t i = 0; i < ops.size(); ++i)
      if (needed[i]) translate(ops[i]);
    const std::string result = value(out, "");
    WICK_CHECK(batched_.count(result), "export_onnx: the model's output (shape ", shape_str(out.shape()),
               ") does not depend on its input");
    rename(result, "output");
    output_shape_ = out.shape();
    prune();
  }

  // Folds each BatchNormalization whose input comes only from a Conv or a Gemm into it.
  int64_t fold_batchnorms() {
    int64_t folded = 0;
    std::map<std::string, int64_t> uses;
    for (const Node& n : nodes_)
      for (const std::string& v : n.in) ++uses[v];
    ++uses["output"];
    std::map<std::string, size_t> made_by;
    for (size_t i = 0; i < nodes_.size(); ++i)
      for (const std::string& v : nodes_[i].out) made_by[v] = i;
    std::vector<bool> drop(nodes_.size(), false);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      Node& bn = nodes_[i];
      if (bn.op != "BatchNormalization" || !made_by.count(bn.in[0]) || uses[bn.in[0]] != 1) continue;
      Node& layer = nodes_[made_by[bn.in[0]]];
      const bool gemm = layer.op == "Gemm";
      if (!(layer.op == "Conv" || gemm) || uses[layer.in[1]] != 1 || (layer.in.size() > 2 && uses[layer.in[2]] != 1))
        continue;
      if (gemm && !(layer.attrs.size() == 1 && layer.attrs[0].name == "transB")) continue;
      std::vector<const Tensor*> stats;
      for (size_t k = 1; k < 5; ++k) {
        auto it = inits_.find(bn.in[k]);
        if (it == inits_.end() || !it->second.floats.defined()) break;
        stats.push_back(&it->second.floats);
      }
      auto is_init = [&](const std::string& v) { return inits_.count(v) && inits_.at(v).floats.defined(); };
      if (stats.size() != 4 || !is_init(layer.in[1]) || (layer.in.size() > 2 && !is_init(layer.in[2]))) continue;
      const double eps = bn.attrs.at(0).real;
      const std::vector<float> gamma = stats[0]->to_vector<float>(), beta = stats[1]->to_vector<float>();
      const std::vector<float> mean = stats[2]->to_vector<float>(), var = stats[3]->to_vector<float>();
      Tensor& w = inits_[layer.in[1]].floats;
      const int64_t O = w.size(0), per = w.numel() / std::max<int64_t>(O, 1);
      std::vector<float> wv = w.to_vector<float>();
      std::vector<float> bv(static_cast<size_t>(O), 0.f);
      if (layer.in.size() > 2) bv = inits_.at(layer.in[2]).floats.to_vector<float>();
      // y = γ (conv(x) + b − μ) / √(σ² + ε) + β = conv(x)·s + (b − μ)·s + β, s = γ / √(σ² + ε).
      for (int64_t o = 0; o < O; ++o) {
        const double s = gamma[o] / std::sqrt(static_cast<double>(var[o]) + eps);
        for (int64_t j = 0; j < per; ++j) wv[o * per + j] = static_cast<float>(wv[o * per + j] * s);
        bv[o] = static_cast<float>((static_cast<double>(bv[o]) - mean[o]) * s + beta[o]);
      }
      w = from_vector(wv, w.shape());
      if (layer.in.size() > 2) {
        inits_[layer.in[2]].floats = from_vector(bv, {O});
      } else {
        const std::string bias = unique_init(prefix_of(layer.in[1]) + ".bias");
        add_init(bias, {from_vector(bv, {O}), {}, {O}});
        layer.in.push_back(bias);
      }
      layer.out[0] = bn.out[0];
      drop[i] = true;
      ++folded;
    }
    std::vector<Node> kept;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!drop[i]) kept.push_back(std::move(nodes_[i]));
    nodes_ = std::move(kept);
    prune();
    return folded;
  }

  // Drops the nodes and initializers the output does not need (a Linear's transpose once it is
  // a Gemm, a folded BatchNorm's tensors, ops traced inside other ops).
  void prune() {
    std::set<std::string> live{"output"};
    std::vector<Node> kept;
    for (size_t i = nodes_.size(); i-- > 0;) {
      if (std::none_of(nodes_[i].out.begin(), nodes_[i].out.end(), [&](const std::string& v) { return live.count(v); }))
        continue;
      live.insert(nodes_[i].in.begin(), nodes_[i].in.end());
      kept.push_back(std::move(nodes_[i]));
    }
    nodes_.assign(std::make_move_iterator(kept.rbegin()), std::make_move_iterator(kept.rend()));
    std::erase_if(init_order_, [&](const std::string& name) { return !live.count(name); });
  }

  // The model as ONNX: its nodes, the initializers they read, the input and the output.
  onnx::ModelProto proto(const std::string& graph_name, const Shape& sample_shape) const {
    onnx::ModelProto m;
    m.set_ir_version(onnx::IR_VERSION);
    m.set_producer_name("wick");
    m.set_producer_version("0.1.0");
    auto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(opset_);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name(graph_name);
    auto declare = [](onnx::ValueInfoProto* v, const std::string& name, const Shape& rest) {
      v->set_name(name);
      auto* tensor = v->mutable_type()->mutable_tensor_type();
      tensor->set_elem_type(onnx::TensorProto::FLOAT);
      auto* shape = tensor->mutable_shape();
      shape->add_dim()->set_dim_param("N");
      for (int64_t d : rest) shape->add_dim()->set_dim_value(d);
    };
    declare(g->add_input(), "input", sample_shape);
    declare(g->add_output(), "output", Shape(output_shape_.begin() + 1, output_shape_.end()));
    for (const std::string& name : init_order_) {
      const Initializer& init = inits_.at(name);
      onnx::TensorProto* t = g->add_initializer();
      t->set_name(name);
      for (int64_t d : init.shape) t->add_dims(d);
      if (init.floats.defined()) {
        t->set_data_type(onnx::TensorProto::FLOAT);
        const Tensor c = init.floats.contiguous();
        t->set_raw_data(c.data<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
      } else {
        t->set_data_type(onnx::TensorProto::INT64);
        t->set_raw_data(init.ints.data(), init.ints.size() * sizeof(int64_t));
      }
    }
    for (const Node& n : nodes_) {
      onnx::NodeProto* p = g->add_node();
      p->set_op_type(n.op);
      p->set_name(n.name);
      for (const std::string& v : n.in) p->add_input(v);
      for (const std::string& v : n.out) p->add_output(v);
      for (const Attr& a : n.attrs) {
        onnx::AttributeProto* ap = p->add_attribute();
        ap->set_name(a.name);
        if (a.kind == Attr::Int) {
          ap->set_type(onnx::AttributeProto::INT);
          ap->set_i(a.ints.at(0));
        } else if (a.kind == Attr::Ints) {
          ap->set_type(onnx::AttributeProto::INTS);
          for (int64_t v : a.ints) ap->add_ints(v);
        } else {
          ap->set_type(onnx::AttributeProto::FLOAT);
          ap->set_f(static_cast<float>(a.real));
        }
      }
    }
    return m;
  }

 private:
  [[noreturn]] static void refuse(const trace::Op& op, const std::string& why) {
    detail::fail("export_onnx: ", where(op.path), ": ", why);
  }

  // The ONNX value of a traced op's input: the graph input, a parameter or buffer (an initializer
  // under its safetensors key), an earlier op's result, or a one-element constant.
  std::string value(const Tensor& t, const std::string& path) {
    if (!t.defined()) return "";
    if (auto it = values_.find(t.impl()); it != values_.end()) return it->second;
    if (auto it = params_.find(t.impl()); it != params_.end()) {
      add_init(it->second, {t.detach().contiguous(), {}, t.shape()});
      return values_[t.impl()] = it->second;
    }
    if (auto it = traced_.made.find(t.impl()); it != traced_.made.end())
      detail::fail("export_onnx: ", where(it->second.path), ": the forward uses '", it->second.name,
                   "', which has no ONNX form in wick's exporter (docs/onnx.md lists the ops it knows)");
    WICK_CHECK(t.numel() == 1 && t.dtype() == Dtype::Float32, "export_onnx: ", where(path),
               ": the forward uses a tensor of shape ", shape_str(t.shape()),
               " that is neither the input, a parameter or buffer, nor computed from them by an exportable op");
    const std::string name = unique_init("constant");
    add_init(name, {t.detach().contiguous(), {}, t.shape()});
    return values_[t.impl()] = name;
  }

  std::string unique(const std::string& base) {
    int64_t& n = taken_[base];
    return n++ == 0 ? base : base + "_" + std::to_string(n - 1);
  }
  std::string unique_init(const std::string& base) {
    std::string name = unique(base);
    while (inits_.count(name)) name = unique(base);
    return name;
  }
  void add_init(const std::string& name, Initializer init) {
    if (inits_.emplace(name, std::move(init)).second) init_order_.push_back(name);
  }
  std::string ints_init(const std::string& base, std::vector<int64_t> v) {
    const std::string name = unique_init(base);
    const int64_t n = static_cast<int64_t>(v.size());
    add_init(name, {Tensor(), std::move(v), {n}});
    return name;
  }
  std::string floats_init(const std::string& base, const Tensor& t) {
    const std::string name = unique_init(base);
    add_init(name, {t, {}, t.shape()});
    return name;
  }

  // Adds a node; returns its (one) output's name.
  std::string emit(const std::string& op, const std::string& base, std::vector<std::string> in,
                   std::vector<Attr> attrs = {}) {
    const std::string out = unique(base);
    nodes_.push_back({op, out, std::move(in), {out}, std::move(attrs)});
    return out;
  }

  // Renames a node's output (and its uses); a value no node makes is passed on by an Identity.
  void rename(const std::string& from, const std::string& to) {
    if (std::none_of(nodes_.begin(), nodes_.end(), [&](const Node& n) { return n.out[0] == from; })) {
      nodes_.push_back({"Identity", to, {from}, {to}, {}});
      return;
    }
    for (Node& n : nodes_) {
      std::replace(n.in.begin(), n.in.end(), from, to);
      std::replace(n.out.begin(), n.out.end(), from, to);
    }
  }

  // Where an op's nodes are named from: its first parameter's module, else the container path.
  std::string base_of(const trace::Op& op) const {
    for (const Tensor& t : op.inputs)
      if (t.defined())
        if (auto it = params_.find(t.impl()); it != params_.end()) return prefix_of(it->second);
    return op.path;
  }

  void translate(const trace::Op& op) {
    const std::string name = op.name, base = base_of(op), at = base.empty() ? name : base + "/" + name;
    std::vector<std::string> in;
    bool batched = false;
    for (const Tensor& t : op.inputs) {
      in.push_back(value(t, op.path));
      batched = batched || batched_.count(in.back());
    }
    const Shape& xs = op.inputs.at(0).shape();
    std::string out;
    auto pads = [](const std::vector<int64_t>& p) { return std::vector<int64_t>{p[0], p[1], p[0], p[1]}; };
    static const std::map<std::string, std::string> unary{
        {"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"exp", "Exp"}, {"log", "Log"},
        {"sqrt", "Sqrt"}, {"abs", "Abs"}, {"neg", "Neg"}, {"clone", "Identity"}};
    if (unary.count(name)) {
      out = emit(unary.at(name), at, {in[0]});
    } else if (name == "softmax" || name == "log_softmax") {
      out = emit(name == "softmax" ? "Softmax" : "LogSoftmax", at, {in[0]}, {int_attr("axis", attr_of(op, "dim").ints[0])});
    } else if (name == "leaky_relu") {
      out = emit("LeakyRelu", at, {in[0]}, {float_attr("alpha", attr_of(op, "negative_slope").real)});
    } else if (name == "clamp") {
      out = emit("Clip", at, {in[0], floats_init(at + ".min", full({}, attr_of(op, "min").real)),
                              floats_init(at + ".max", full({}, attr_of(op, "max").real))});
    } else if (name == "pow") {
      out = emit("Pow", at, {in[0], floats_init(at + ".exponent", full({}, attr_of(op, "exponent").real))});
    } else if (name == "conv2d") {
      const Shape& ws = op.inputs[1].shape();
      std::vector<std::string> args{in[0], in[1]};
      if (!in[2].empty()) args.push_back(in[2]);
      out = emit("Conv", at, args,
                 {ints_attr("kernel_shape", {ws[2], ws[3]}), ints_attr("strides", attr_of(op, "stride").ints),
                  ints_attr("pads", pads(attr_of(op, "padding").ints)),
                  ints_attr("dilations", attr_of(op, "dilation").ints), int_attr("group", attr_of(op, "groups").ints[0])});
    } else if (name == "batch_norm" || name == "batch_norm_relu") {
      if (attr_of(op, "training").ints[0])
        refuse(op, "this BatchNorm normalizes with each batch's statistics (mode batch-stats, or no running "
                   "statistics); ONNX's BatchNormalization uses running statistics (set its mode to auto or frozen)");
      const int64_t C = xs[1];
      const std::string scale = in[1].empty() ? floats_init(at + ".scale", ones({C})) : in[1];
      const std::string shift = in[2].empty() ? floats_init(at + ".shift", zeros({C})) : in[2];
      out = emit("BatchNormalization", at, {in[0], scale, shift, in[3], in[4]},
                 {float_attr("epsilon", attr_of(op, "eps").real)});
      if (name == "batch_norm_relu") out = emit("Relu", base + "/relu", {out});
    } else if (name == "group_norm" || name == "layer_norm") {
      out = normalization(op, in, at);
    } else if ((name == "max_pool2d" || name == "avg_pool2d" || name == "adaptive_avg_pool2d") && xs.size() != 4) {
      refuse(op, name + " of a " + std::to_string(xs.size()) + "-D input " + shape_str(xs) +
                     ": ONNX pools (N, C, H, W) only");
    } else if ((name == "max_pool2d" || name == "avg_pool2d") && attr_of(op, "ceil_mode").ints[0]) {
      refuse(op, name + " with ceil_mode: ONNX sizes the last window differently from PyTorch and wick (a window "
                 "starting in the right padding is kept), so it is not exported");
    } else if (name == "max_pool2d") {
      out = emit("MaxPool", at,
                 {in[0]}, {ints_attr("kernel_shape", attr_of(op, "kernel_size").ints),
                           ints_attr("strides", attr_of(op, "stride").ints),
                           ints_attr("pads", pads(attr_of(op, "padding").ints)),
                           ints_attr("dilations", attr_of(op, "dilation").ints),
                           int_attr("ceil_mode", 0)});
    } else if (name == "avg_pool2d") {
      out = emit("AveragePool", at,
                 {in[0]}, {ints_attr("kernel_shape", attr_of(op, "kernel_size").ints),
                           ints_attr("strides", attr_of(op, "stride").ints),
                           ints_attr("pads", pads(attr_of(op, "padding").ints)),
                           int_attr("ceil_mode", 0),
                           int_attr("count_include_pad", attr_of(op, "count_include_pad").ints[0])});
    } else if (name == "adaptive_avg_pool2d") {
      const auto& o = attr_of(op, "output_size").ints;
      const int64_t h = xs[xs.size() - 2], w = xs[xs.size() - 1];
      if (o[0] == 1 && o[1] == 1) {
        out = emit("GlobalAveragePool", at, {in[0]});
      } else {
        if (h % o[0] != 0 || w % o[1] != 0)
          refuse(op, "adaptive_avg_pool2d from " + std::to_string(h) + "x" + std::to_string(w) + " to " +
                         std::to_string(o[0]) + "x" + std::to_string(o[1]) + " has bins of unequal size, which ONNX's "
                         "AveragePool cannot express");
        out = emit("AveragePool", at, {in[0]},
                   {ints_attr("kernel_shape", {h / o[0], w / o[1]}), ints_attr("strides", {h / o[0], w / o[1]})});
      }
    } else if (name == "reshape") {
      std::vector<int64_t> shape = attr_of(op, "shape").ints;
      if (batched) {
        if (shape.empty() || xs.empty() || shape[0] != xs[0])
          refuse(op, "a reshape from " + shape_str(xs) + " to " + shape_str(shape) +
                         " changes the batch dimension, which the exported graph leaves free");
        shape[0] = 0;  // ONNX: copy the input's dim
      }
      if (std::find(shape.begin() + (batched ? 1 : 0), shape.end(), 0) != shape.end())
        refuse(op, "a reshape to an empty shape " + shape_str(attr_of(op, "shape").ints) + " is not exported");
      out = emit("Reshape", at, {in[0], ints_init(at + ".shape", shape)});
    } else if (name == "permute") {
      const auto& dims = attr_of(op, "dims").ints;
      if (batched && (dims.empty() || dims[0] != 0))
        refuse(op, "a permute " + shape_str(dims) + " moves the batch dimension, which the exported graph leaves free");
      out = emit("Transpose", at, {in[0]}, {ints_attr("perm", dims)});
    } else if (name == "matmul") {
      // x · Wᵀ with W a 2-D parameter (nn::Linear): a Gemm reading W as it is stored.
      const trace::Op* t = producer(op.inputs[1]);
      if (xs.size() == 2 && t && std::string(t->name) == "permute" && attr_of(*t, "dims").ints == std::vector<int64_t>{1, 0} &&
          params_.count(t->inputs[0].impl()) &&
          t->inputs[0].dim() == 2)
        out = emit("Gemm", prefix_of(params_.at(t->inputs[0].impl())) + "/linear", {in[0], value(t->inputs[0], op.path)},
                   {int_attr("transB", 1)});
      else
        out = emit("MatMul", at, {in[0], in[1]});
    } else if (name == "add") {
      const double alpha = attr_of(op, "alpha").real;
      Node* gemm = gemm_for_bias(op, in[0]);
      if (gemm && alpha == 1.0) {
        gemm->in.push_back(in[1]);  // Gemm's C: the Linear's bias
        out = gemm->out[0];
      } else if (alpha == 1.0 || alpha == -1.0) {
        out = emit(alpha == 1.0 ? "Add" : "Sub", at, {in[0], in[1]});
      } else {
        const std::string scaled = emit("Mul", at + "/alpha", {in[1], floats_init(at + ".alpha", full({}, alpha))});
        out = emit("Add", at, {in[0], scaled});
      }
    } else if (name == "mul" || name == "div") {
      out = emit(name == "mul" ? "Mul" : "Div", at, {in[0], in[1]});
    } else {
      refuse(op, "the forward uses '" + name + "', which has no ONNX form in wick's exporter");
    }
    values_[op.out.impl()] = out;
    if (batched) batched_.insert(out);
  }

  // GroupNorm: the groups normalized as InstanceNormalization over (N, G, rest), reshaped back,
  // then γ and β per channel. LayerNorm: LayerNormalization from opset 17, else the same with one
  // "channel" per row of the normalized dims.
  std::string normalization(const trace::Op& op, const std::vector<std::string>& in, const std::string& at) {
    const Shape& xs = op.inputs[0].shape();
    const double eps = attr_of(op, "eps").real;
    const bool group = std::string(op.name) == "group_norm";
    const auto& normalized = group ? std::vector<int64_t>{} : attr_of(op, "normalized_shape").ints;
    if (!group && opset_ >= 17) {
      const std::string scale = in[1].empty() ? floats_init(at + ".scale", ones(normalized)) : in[1];
      std::vector<std::string> args{in[0], scale};
      if (!in[2].empty()) args.push_back(in[2]);
      return emit("LayerNormalization", at, args,
                  {int_attr("axis", -static_cast<int64_t>(normalized.size())), float_attr("epsilon", eps)});
    }
    const int64_t rows = group ? attr_of(op, "num_groups").ints[0] : 1;
    std::vector<int64_t> shape{0, rows, -1};
    if (!group) {
      int64_t d = 1;
      for (int64_t v : normalized) d *= v;
      shape = {-1, 1, d};
    }
    const std::string grouped = emit("Reshape", at + "/rows", {in[0], ints_init(at + ".rows", shape)});
    const std::string normed = emit("InstanceNormalization", at + "/normalize",
                                    {grouped, floats_init(at + ".ones", ones({rows})), floats_init(at + ".zeros", zeros({rows}))},
                                    {float_attr("epsilon", eps)});
    std::string y = emit("Reshape", at, {normed, emit("Shape", at + "/shape", {in[0]})});
    // γ and β: per channel (C) for GroupNorm, so unsqueezed over the spatial dims; over the last
    // dims for LayerNorm, where broadcasting lines them up as they are.
    std::vector<int64_t> axes;
    for (int64_t d = 2; group && d < static_cast<int64_t>(xs.size()); ++d) axes.push_back(d - 1);
    auto per_channel = [&](const std::string& v) {
      return axes.empty() ? v : emit("Unsqueeze", v + "/unsqueeze", {v, ints_init(at + ".axes", axes)});
    };
    if (!in[1].empty()) y = emit("Mul", at + "/scale", {y, per_channel(in[1])});
    if (!in[2].empty()) y = emit("Add", at + "/shift", {y, per_channel(in[2])});
    return y;
  }

  const trace::Op* producer(const Tensor& t) const {
    auto it = producer_op_.find(t.impl());
    return it == producer_op_.end() ? nullptr : it->second;
  }

  // The Gemm whose result `x` is, when x is used only by this add and b is its bias (one value per
  // output column): the add then becomes Gemm's C.
  Node* gemm_for_bias(const trace::Op& add, const std::string& x) {
    const Tensor& a = add.inputs[0];
    const Tensor& b = add.inputs[1];
    if (uses_[a.impl()] != 1 || a.dim() != 2 || b.dim() != 1 || b.size(0) != a.size(1) || !params_.count(b.impl()))
      return nullptr;
    for (Node& n : nodes_)
      if (n.op == "Gemm" && n.out[0] == x && n.in.size() == 2) return &n;
    return nullptr;
  }

  int64_t opset_;
  const TracedForward& traced_;
  std::unordered_map<const TensorImpl*, std::string> params_, values_;
  std::unordered_map<const TensorImpl*, int64_t> uses_;
  std::unordered_map<const TensorImpl*, const trace::Op*> producer_op_;
  std::set<std::string> batched_;  // values whose first dim is the batch
  std::map<std::string, int64_t> taken_;
  std::vector<Node> nodes_;
  std::map<std::string, Initializer> inits_;
  std::vector<std::string> init_order_;
  Shape output_shape_;
};

}  // namespace

int64_t onnx_max_opset() {
  return onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
}

OnnxExportReport export_onnx(Module& model, const std::string& path, const Shape& sample_shape,
                             const OnnxExportOptions& options) {
  const int64_t max_opset = onnx_max_opset();
  WICK_CHECK(options.opset() >= kMinOpset && options.opset() <= max_opset, "export_onnx: opset must be from ",
             kMinOpset, " to ", max_opset, ", got ", options.opset());
  const TracedForward traced = trace_forward(model, sample_shape, "export_onnx");
  Graph graph(model, traced, options.opset());
  graph.build();
  OnnxExportReport report;
  if (options.fold_bn()) report.folded = graph.fold_batchnorms();
  onnx::ModelProto proto = graph.proto(model.type_name(), sample_shape);
  try {
    onnx::checker::check_model(proto);
    onnx::ModelProto inferred = proto;
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    detail::fail("export_onnx: ONNX's checker refused the exported graph (a bug in wick's exporter): ", e.what());
  }
  report.nodes = proto.graph().node_size();
  report.initializers = proto.graph().initializer_size();
  report.bytes = static_cast<int64_t>(proto.ByteSizeLong());
  WICK_CHECK(report.bytes < (int64_t(1) << 31), "export_onnx: the model needs ", report.bytes,
             " bytes, past protobuf's 2 GiB limit for one file");
  write_file_atomic(path, [&](std::ostream& os) {
    WICK_CHECK(proto.SerializeToOstream(&os), "export_onnx: could not serialize the model");
  });
  return report;
}

}  // namespace wick::nn
