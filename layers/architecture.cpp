// A small recursive-descent parser for module printouts, and one builder per layer type.
#include "layers/architecture.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "layers/nn.h"

namespace wick::nn {
namespace {

struct Value {
  std::optional<double> number;
  std::vector<double> tuple;
  std::string word;  // True, False, None, or a bare identifier
};

struct Args {
  std::string type;
  std::vector<Value> positional;
  std::map<std::string, Value> named;

  [[noreturn]] void fail(const std::string& what) const { detail::fail("architecture: ", type, ": ", what); }
  const Value* find(const std::string& key) const {
    auto it = named.find(key);
    return it == named.end() ? nullptr : &it->second;
  }
  double number(const Value& v, const std::string& key) const {
    if (!v.number) fail(key + " should be a number");
    return *v.number;
  }
  // The integer at positional index `pos`, or else the one named `key`.
  int64_t integer(const std::string& key, size_t pos = SIZE_MAX) const {
    if (pos < positional.size()) return static_cast<int64_t>(number(positional[pos], key));
    const Value* v = find(key);
    if (!v) fail("missing " + key);
    return static_cast<int64_t>(number(*v, key));
  }
  template <typename T>
  T get(const std::string& key, T fallback) const {
    const Value* v = find(key);
    if (!v) return fallback;
    if constexpr (std::is_same_v<T, bool>) {
      if (v->word != "True" && v->word != "False") fail(key + " should be True or False");
      return v->word == "True";
    } else if constexpr (std::is_same_v<T, Size2>) {
      if (v->number) return Size2(static_cast<int64_t>(*v->number));
      if (v->tuple.size() == 2) return Size2(static_cast<int64_t>(v->tuple[0]), static_cast<int64_t>(v->tuple[1]));
      fail(key + " should be a number or a pair");
    } else {
      return static_cast<T>(number(*v, key));
    }
  }
  void only(std::initializer_list<const char*> keys, size_t max_positional) const {
    if (positional.size() > max_positional) fail("too many positional arguments");
    for (const auto& [k, v] : named)
      if (std::find_if(keys.begin(), keys.end(), [&](const char* s) { return k == s; }) == keys.end())
        fail("unknown option " + k);
  }
};

std::shared_ptr<Module> build(const Args& a) {
  const std::string& t = a.type;
  if (t == "Conv2d") {
    a.only({"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"}, 2);
    return std::make_shared<Conv2dImpl>(Conv2dOptions(a.integer("in_channels", 0), a.integer("out_channels", 1),
                                                      a.get<Size2>("kernel_size", 1))
                                            .stride(a.get<Size2>("stride", 1))
                                            .padding(a.get<Size2>("padding", 0))
                                            .dilation(a.get<Size2>("dilation", 1))
                                            .groups(a.get<int64_t>("groups", 1))
                                            .bias(a.get<bool>("bias", true)));
  }
  if (t == "Linear") {
    a.only({"in_features", "out_features", "bias"}, 0);
    return std::make_shared<LinearImpl>(
        LinearOptions(a.integer("in_features"), a.integer("out_features")).bias(a.get<bool>("bias", true)));
  }
  if (t == "BatchNorm1d" || t == "BatchNorm2d") {
    a.only({"num_features", "eps", "momentum", "affine", "track_running_stats", "mode"}, 1);
    BatchNormOptions o(a.integer("num_features", 0));
    o.eps(a.get<double>("eps", 1e-5)).affine(a.get<bool>("affine", true));
    o.track_running_stats(a.get<bool>("track_running_stats", true));
    const Value* m = a.find("momentum");
    if (m && m->word == "None") o.momentum(std::nullopt);
    else if (m) o.momentum(a.number(*m, "momentum"));
    std::shared_ptr<BatchNormImplBase> bn;
    if (t == "BatchNorm1d") bn = std::make_shared<BatchNorm1dImpl>(o);
    else bn = std::make_shared<BatchNorm2dImpl>(o);
    if (const Value* mode = a.find("mode")) {
      if (mode->word == "frozen") bn->set_mode(BatchNormMode::Frozen);
      else if (mode->word == "batch-stats") bn->set_mode(BatchNormMode::BatchStats);
      else if (mode->word != "auto") a.fail("unknown mode " + mode->word);
    }
    return bn;
  }
  if (t == "MaxPool2d") {
    a.only({"kernel_size", "stride", "padding", "dilation", "ceil_mode"}, 0);
    Size2 k = a.get<Size2>("kernel_size", 1);
    return std::make_shared<MaxPool2dImpl>(MaxPool2dOptions(k)
                                               .stride(a.get<Size2>("stride", k))
                                               .padding(a.get<Size2>("padding", 0))
                                               .dilation(a.get<Size2>("dilation", 1))
                                               .ceil_mode(a.get<bool>("ceil_mode", false)));
  }
  if (t == "AvgPool2d") {
    a.only({"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"}, 0);
    Size2 k = a.get<Size2>("kernel_size", 1);
    return std::make_shared<AvgPool2dImpl>(AvgPool2dOptions(k)
                                               .stride(a.get<Size2>("stride", k))
                                               .padding(a.get<Size2>("padding", 0))
                                               .ceil_mode(a.get<bool>("ceil_mode", false))
                                               .count_include_pad(a.get<bool>("count_include_pad", true)));
  }
  if (t == "AdaptiveAvgPool2d") {
    a.only({"output_size"}, 0);
    return std::make_shared<AdaptiveAvgPool2dImpl>(a.get<Size2>("output_size", 1));
  }
  if (t == "Flatten") {
    a.only({"start_dim", "end_dim"}, 0);
    return std::make_shared<FlattenImpl>(
        FlattenOptions().start_dim(a.get<int64_t>("start_dim", 1)).end_dim(a.get<int64_t>("end_dim", -1)));
  }
  if (t == "Dropout") {
    a.only({"p", "inplace"}, 0);
    if (a.get<bool>("inplace", false)) a.fail("inplace=True is not supported");
    return std::make_shared<DropoutImpl>(a.get<double>("p", 0.5));
  }
  if (t == "LeakyReLU") {
    a.only({"negative_slope", "inplace"}, 0);
    return std::make_shared<LeakyReLUImpl>(LeakyReLUOptions().negative_slope(a.get<double>("negative_slope", 0.01)));
  }
  a.only({"inplace"}, 0);
  if (t == "Sequential") return std::make_shared<SequentialImpl>();
  if (t == "ReLU") return std::make_shared<ReLUImpl>();
  if (t == "Sigmoid") return std::make_shared<SigmoidImpl>();
  if (t == "Tanh") return std::make_shared<TanhImpl>();
  if (t == "Identity") return std::make_shared<IdentityImpl>();
  detail::fail("architecture: unknown module type \"", t, "\"");
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  std::shared_ptr<Module> parse_all() {
    auto m = module();
    skip_space();
    if (pos_ != s_.size()) error("unexpected text after the model");
    return m;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    detail::fail("architecture: ", what, " at offset ", pos_, " of the model description");
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) error(std::string("expected '") + c + "'");
  }
  std::string word() {
    skip_space();
    size_t b = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || s_[pos_] == '-'))
      ++pos_;
    if (b == pos_) error("expected a name");
    return s_.substr(b, pos_ - b);
  }
  double number() {
    skip_space();
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end == begin) error("expected a number");
    pos_ += static_cast<size_t>(end - begin);
    return v;
  }
  bool at_number() {
    skip_space();
    return pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' || s_[pos_] == '.');
  }
  Value value() {
    Value v;
    if (accept('(')) {
      do v.tuple.push_back(number());
      while (accept(','));
      expect(')');
    } else if (at_number()) {
      v.number = number();
    } else {
      v.word = word();
    }
    return v;
  }

  std::shared_ptr<Module> module() {
    Args a;
    a.type = word();
    expect('(');
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == '(') return children(a.type);
    if (!accept(')')) {
      do {
        skip_space();
        if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
          Value v;
          v.word = word();
          if (accept('=')) a.named[v.word] = value();
          else a.positional.push_back(v);
        } else {
          a.positional.push_back(value());
        }
      } while (accept(','));
      expect(')');
    }
    return build(a);
  }

  std::shared_ptr<Module> children(const std::string& type) {
    if (type != "Sequential") error(type + " cannot hold child modules here");
    auto seq = std::make_shared<SequentialImpl>();
    while (accept('(')) {
      std::string key = word();
      if (key != std::to_string(seq->size())) error("Sequential child \"" + key + "\" is out of order");
      expect(')');
      expect(':');
      seq->add(module());
    }
    expect(')');
    return seq;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

std::shared_ptr<Module> module_from_repr(const std::string& text) { return Parser(text).parse_all(); }

}  // namespace wick::nn
