// Descriptions <-> module trees: a Fields reader over a JSON object (every value checked, every
// refusal naming its path), a Fields writer into one, module state, and Module::clone().
#include "layers/architecture.h"

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/allocator.h"
#include "core/autograd.h"
#include "layers/init.h"
#include "layers/nn.h"
#include "layers/registry.h"
#include "layers/serialize.h"

namespace wick::nn {
namespace {

using Json = nlohmann::ordered_json;
constexpr int64_t kMaxInt = (int64_t(1) << 31) - 1;  // sizes, strides, dims: beyond this is hostile

// An error already naming its place in the description (not to be prefixed again).
struct DescriptionError : Error {
  using Error::Error;
};

// A path for a message: a deeply nested one keeps its two ends.
std::string shown(const std::string& path) {
  return path.size() <= 120 ? path : path.substr(0, 50) + " ... " + path.substr(path.size() - 50);
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
  throw DescriptionError(path.empty() ? what : shown(path) + ": " + what);
}

std::string join(const std::string& path, const std::string& name) { return path.empty() ? name : path + "." + name; }

// A JSON value in a message, cut short.
std::string brief(const Json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

std::string expectation(Check check, const std::string& kind) {
  switch (check) {
    case Check::Positive: return "a positive " + kind;
    case Check::NonNegative: return "a non-negative " + kind;
    case Check::Unit: return "a " + kind + " in [0, 1]";
    default: return (kind[0] == 'i' ? "an " : "a ") + kind;
  }
}

bool passes(double v, Check check) {
  switch (check) {
    case Check::Positive: return v > 0;
    case Check::NonNegative: return v >= 0;
    case Check::Unit: return v >= 0 && v <= 1;
    default: return true;
  }
}

struct BuildContext {
  ArchitectureLimits limits;
  int64_t modules = 0;
};

std::shared_ptr<Module> build(const Json& j, const std::string& path, int64_t depth, BuildContext& ctx,
                              bool named_entry);

// Reads a config's fields out of one JSON object; finish() refuses keys no field took.
class Reader : public Fields {
 public:
  Reader(const Json& obj, std::string path, int64_t depth, BuildContext* ctx)
      : obj_(obj), path_(std::move(path)), depth_(depth), ctx_(ctx) {}
  bool reading() const override { return true; }
  void take(const char* key) { taken_.insert(key); }

  void finish(const std::string& type) const {
    for (const auto& [key, v] : obj_.items()) {
      if (taken_.count(key)) continue;
      std::string known;
      for (const auto& k : fields_) known += (known.empty() ? "" : ", ") + k;
      refuse(path_, type + " has no field \"" + key + "\"" +
                        (known.empty() ? " (it takes none)" : " (its fields: " + known + ")"));
    }
  }

  void visit(const char* name, int64_t& v, Check check, bool required) override {
    if (const Json* j = get(name, required)) v = integer(*j, name, check);
  }
  void visit(const char* name, double& v, Check check, bool required) override {
    if (const Json* j = get(name, required)) v = real(*j, name, check);
  }
  void visit(const char* name, std::optional<double>& v, Check check, bool required) override {
    if (const Json* j = get(name, required)) v = j->is_null() ? std::nullopt : std::optional(real(*j, name, check));
  }
  void visit(const char* name, bool& v, Check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    if (!j->is_boolean()) refuse(join(path_, name), "expected true or false, got " + brief(*j));
    v = j->get<bool>();
  }
  void visit(const char* name, Size2& v, Check check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    if (j->is_array()) {
      if (j->size() != 2) refuse(join(path_, name), "expected a number or a [height, width] pair, got " + brief(*j));
      v = Size2(integer((*j)[0], name, check), integer((*j)[1], name, check));
    } else {
      v = Size2(integer(*j, name, check));
    }
  }
  void visit(const char* name, std::vector<int64_t>& v, Check check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    if (!j->is_array()) {
      v = {integer(*j, name, check)};
      return;
    }
    if (j->empty()) refuse(join(path_, name), "expected a number or a non-empty list of them, got []");
    v.clear();
    for (const Json& e : *j) v.push_back(integer(e, name, check));
  }
  void visit(const char* name, std::string& v, Check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    if (!j->is_string()) refuse(join(path_, name), "expected a string, got " + brief(*j));
    v = j->get<std::string>();
  }
  void visit(const char* name, std::shared_ptr<Module>& v, Check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    v = j->is_null() ? nullptr : build(*j, join(path_, name), depth_ + 1, context(), false);
  }
  void visit(const char* name, Named<std::shared_ptr<Module>>& v, Check, bool required) override {
    const Json* j = get(name, required);
    if (!j) return;
    const std::string at = join(path_, name);
    if (!j->is_array()) refuse(at, "expected a list of modules, got " + brief(*j));
    v.clear();
    for (size_t i = 0; i < j->size(); ++i) {
      const Json& entry = (*j)[i];
      std::string child = at + "[" + std::to_string(i) + "]";
      std::string key = std::to_string(i);
      if (entry.is_object() && entry.contains("name")) {
        const Json& n = entry["name"];
        if (!n.is_string() || n.get<std::string>().empty() || n.get<std::string>().find('.') != std::string::npos)
          refuse(child + ".name", "expected a non-empty name without '.', got " + brief(n));
        key = n.get<std::string>();
      }
      v.emplace_back(key, build(entry, child, depth_ + 1, context(), true));
    }
  }

 private:
  BuildContext& context() const {
    WICK_CHECK(ctx_ != nullptr, path_, ": module state cannot hold modules");
    return *ctx_;
  }
  const Json* get(const char* name, bool required) {
    fields_.push_back(name);
    taken_.insert(name);
    auto it = obj_.find(name);
    if (it == obj_.end()) {
      if (required) refuse(path_, "missing the required field \"" + std::string(name) + "\"");
      return nullptr;
    }
    return &*it;
  }
  int64_t integer(const Json& j, const char* name, Check check) const {
    bool in_range = false;
    int64_t v = 0;
    if (j.is_number_unsigned()) {
      in_range = j.get<uint64_t>() <= static_cast<uint64_t>(kMaxInt);
      if (in_range) v = j.get<int64_t>();
    } else if (j.is_number_integer()) {
      v = j.get<int64_t>();
      in_range = v >= -kMaxInt && v <= kMaxInt;
    }
    if (!in_range || !passes(static_cast<double>(v), check))
      refuse(join(path_, name), std::string("expected ") + expectation(check, "integer") +
                                    (j.is_number_integer() && !in_range ? " of at most 2^31 - 1" : "") + ", got " +
                                    brief(j));
    return v;
  }
  double real(const Json& j, const char* name, Check check) const {
    if (!j.is_number() || !std::isfinite(j.get<double>()) || !passes(j.get<double>(), check))
      refuse(join(path_, name), std::string("expected ") + expectation(check, "finite number") + ", got " + brief(j));
    return j.get<double>();
  }

  const Json& obj_;
  std::string path_;
  int64_t depth_;
  BuildContext* ctx_;
  std::set<std::string> taken_;
  std::vector<std::string> fields_;
};

std::shared_ptr<Module> build(const Json& j, const std::string& path, int64_t depth, BuildContext& ctx,
                              bool named_entry) {
  if (depth > ctx.limits.max_depth())
    refuse(path, "modules nested more than " + std::to_string(ctx.limits.max_depth()) + " deep");
  if (++ctx.modules > ctx.limits.max_modules())
    refuse(path, "more than " + std::to_string(ctx.limits.max_modules()) + " modules in all");
  if (!j.is_object()) refuse(path, "expected a module (an object with a \"type\"), got " + brief(j));
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) refuse(path, "expected a \"type\" naming a registered module");
  const std::string type = t->get<std::string>();
  const ModuleType* mt = find_type(type);
  if (!mt) {
    std::string known;
    for (const auto& n : registered_names()) known += (known.empty() ? "" : ", ") + n;
    refuse(join(path, "type"), "unknown module type \"" + type + "\" (registered: " + known + ")");
  }
  Reader r(j, path, depth, &ctx);
  r.take("type");
  if (named_entry) r.take("name");
  std::shared_ptr<Module> m;
  try {
    m = mt->build(r);
  } catch (const DescriptionError&) {
    throw;
  } catch (const Error& e) {
    // The constructor's own check ("Conv2d: groups=3 must divide ..."), or the allocation limit's.
    const std::string what = e.what();
    refuse(path, what.rfind(type + ":", 0) == 0 ? what : type + ": " + what);
  }
  r.finish(type);
  return m;
}

// Writes a config's fields into a JSON object.
class Writer : public Fields {
 public:
  explicit Writer(std::string path) : path_(std::move(path)) {}
  bool reading() const override { return false; }
  Json& json() { return obj_; }

  void visit(const char* name, int64_t& v, Check, bool) override { obj_[name] = v; }
  void visit(const char* name, double& v, Check check, bool) override { obj_[name] = real(name, v, check); }
  void visit(const char* name, std::optional<double>& v, Check check, bool) override {
    obj_[name] = v ? Json(real(name, *v, check)) : Json(nullptr);
  }
  void visit(const char* name, bool& v, Check, bool) override { obj_[name] = v; }
  void visit(const char* name, Size2& v, Check, bool) override {
    obj_[name] = v[0] == v[1] ? Json(v[0]) : Json::array({v[0], v[1]});
  }
  void visit(const char* name, std::vector<int64_t>& v, Check, bool) override { obj_[name] = v; }
  void visit(const char* name, std::string& v, Check, bool) override { obj_[name] = v; }
  void visit(const char* name, std::shared_ptr<Module>& v, Check, bool) override;
  void visit(const char* name, Named<std::shared_ptr<Module>>& v, Check, bool) override;

 private:
  // What the reader would refuse is not written: a description must read back (eps=inf would
  // become JSON null).
  double real(const char* name, double v, Check check) const {
    WICK_CHECK(std::isfinite(v) && passes(v, check), "architecture: ", join(path_, name), " = ", v,
               " cannot be described: expected ", expectation(check, "finite number"));
    return v;
  }

  std::string path_;
  Json obj_ = Json::object();
};

Json describe(const Module& m, const std::string& path, const std::string& name = "") {
  const ModuleType* mt = find_type(typeid(m));
  WICK_CHECK(mt != nullptr, "architecture: ", path.empty() ? "the model" : path, " is a ", m.type_name(),
             ", which is not registered (register it once, e.g. WICK_REGISTER(", m.type_name(), ", \"",
             m.type_name(), "\"), see docs/modules.md)");
  Writer w(path);
  if (!name.empty()) w.json()["name"] = name;
  w.json()["type"] = mt->name;
  mt->describe(m, w);
  return std::move(w.json());
}

void Writer::visit(const char* name, std::shared_ptr<Module>& v, Check, bool) {
  obj_[name] = v ? describe(*v, join(path_, name)) : Json(nullptr);
}

void Writer::visit(const char* name, Named<std::shared_ptr<Module>>& v, Check, bool) {
  Json list = Json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string& key = v[i].first;
    list.push_back(describe(*v[i].second, join(path_, name) + "[" + std::to_string(i) + "]",
                            key == std::to_string(i) ? "" : key));
  }
  obj_[name] = std::move(list);
}

// How deep arrays and objects nest in JSON text (brackets inside strings do not count).
int64_t nesting_of(const std::string& text) {
  int64_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Json parse(const std::string& text, const std::string& what) {
  // Deeper values would overflow the stack of whatever walks them recursively (dump, say);
  // an architecture nests about two levels per module.
  constexpr int64_t kMaxNesting = 1000;
  WICK_CHECK(nesting_of(text) <= kMaxNesting, what, " nests arrays and objects more than ", kMaxNesting, " deep");
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    std::string msg = e.what();
    size_t cut = msg.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] "
    detail::fail(what, " is not valid JSON: ", cut == std::string::npos ? msg : msg.substr(cut + 2));
  }
}

}  // namespace

std::string architecture_json(const Module& module, int indent) { return describe(module, "").dump(indent); }

std::shared_ptr<Module> module_from_json(const std::string& text, const ArchitectureLimits& limits) {
  Json j = parse(text, "the architecture");
  BuildContext ctx{limits};
  AllocationLimit memory(static_cast<size_t>(std::max<int64_t>(limits.max_bytes(), 0)));
  try {
    return build(j, "", 0, ctx, false);
  } catch (const DescriptionError& e) {
    throw Error(std::string("architecture: ") + e.what());
  }
}

std::shared_ptr<Module> load_architecture(const std::string& path, const ArchitectureLimits& limits) {
  constexpr std::streamoff kMaxFile = 64 << 20;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  WICK_CHECK(in, path, ": cannot open the file");
  const std::streamoff size = in.tellg();
  WICK_CHECK(size >= 0 && size <= kMaxFile, path, ": an architecture file is at most 64 MiB, this one is ", size,
             " bytes");
  std::string text(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(text.data(), size);
  WICK_CHECK(in, path, ": cannot read the file");
  try {
    return module_from_json(text, limits);
  } catch (const Error& e) {
    detail::fail(path, ": ", e.what());
  }
}

std::string module_state_json(const Module& module) {
  Json state = Json::object();
  for (auto& [name, m] : const_cast<Module&>(module).named_modules()) {
    Writer w(name);
    m->extra_state(w);
    if (!w.json().empty()) state[name] = std::move(w.json());
  }
  return state.dump();
}

void apply_module_state(Module& module, const std::string& text) {
  Json state = parse(text, "the module state");
  WICK_CHECK(state.is_object(), "module state: expected an object of module names, got ", brief(state));
  std::map<std::string, std::shared_ptr<Module>> modules;
  for (auto& [name, m] : module.named_modules()) modules.emplace(name, m);
  try {
    for (const auto& [name, fields] : state.items()) {
      auto it = modules.find(name);
      if (it == modules.end()) refuse("module state", "there is no module named \"" + name + "\"");
      if (!fields.is_object()) refuse("module state." + name, "expected an object, got " + brief(fields));
      Reader r(fields, "module state." + name, 0, nullptr);
      try {
        it->second->extra_state(r);
      } catch (const DescriptionError&) {
        throw;
      } catch (const Error& e) {
        refuse("module state." + name, e.what());
      }
      r.finish(it->second->type_name());
    }
  } catch (const DescriptionError& e) {
    throw Error(e.what());
  }
}

std::shared_ptr<Module> Module::clone() const {
  std::shared_ptr<Module> copy;
  {
    init::SkipInit skip;  // every tensor is overwritten below: draw no random numbers for them
    BuildContext ctx{ArchitectureLimits().max_bytes(INT64_MAX).max_modules(INT64_MAX).max_depth(INT64_MAX)};
    copy = build(describe(*this, ""), "", 0, ctx, false);
  }
  // Modes first: freezing a BatchNorm remembers whether its weights wanted gradients before.
  apply_module_state(*copy, module_state_json(*this));
  auto src = state_dict(*this), dst = state_dict(*copy);
  WICK_CHECK(src.size() == dst.size(), "clone: ", type_name(), " built from its config has ", dst.size(),
             " tensors, the original ", src.size(), " (does its config hold every option?)");
  NoGradGuard g;
  for (size_t i = 0; i < src.size(); ++i) {
    WICK_CHECK(src[i].first == dst[i].first && src[i].second.shape() == dst[i].second.shape(), "clone: ",
               src[i].first, " differs in the copy built from the config (does it hold every option?)");
    dst[i].second.copy_(src[i].second);
    if (dst[i].second.is_leaf()) dst[i].second.requires_grad_(src[i].second.requires_grad());
  }
  auto from = const_cast<Module&>(*this).named_modules(), to = copy->named_modules();
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) to[i].second->train(from[i].second->is_training());
  return copy;
}

}  // namespace wick::nn
