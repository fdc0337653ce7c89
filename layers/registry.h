// The module registry. Every module type, built-in or a user's, is declared once: a registered
// name, a config (its options struct, whose fields() lists its typed fields) and a constructor
// from that config. Architectures in files and JSON, nn::load_module, Module::clone() and
// type_name() all derive from that one declaration (docs/modules.md shows how to add a layer).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <vector>

#include "module.h"
#include "../core/options.h"

namespace wick::nn {

// What a numeric field must be; a config that breaks it is refused with the field's path.
enum class Check { Any, Positive, NonNegative, Unit /* in [0, 1] */ };

// One pass over a config's fields: reading them from a description, or writing them into one.
// An options struct lists its fields once, for both directions:
//   void fields(Fields& f) { f.required("in_features", in_features_, Check::Positive); f.optional("bias", bias_); }
// A required field must be in a description; an optional one keeps its default when absent.
class Fields {
 public:
  virtual ~Fields() = default;
  virtual bool reading() const = 0;

  template <typename T>
  void required(const char* name, T& value, Check check = Check::Any) {
    visit(name, value, check, true);
  }
  template <typename T>
  void optional(const char* name, T& value, Check check = Check::Any) {
    visit(name, value, check, false);
  }

  // The field types a config may have. A module field holds a child's whole description (null:
  // none); a module list is ordered and named, as Sequential's layers.
  virtual void visit(const char* name, int64_t& v, Check check, bool required) = 0;
  virtual void visit(const char* name, double& v, Check check, bool required) = 0;
  virtual void visit(const char* name, std::optional<double>& v, Check check, bool required) = 0;
  virtual void visit(const char* name, bool& v, Check check, bool required) = 0;
  virtual void visit(const char* name, Size2& v, Check check, bool required) = 0;
  // A non-empty list of integers (a shape), each meeting the check; a single number is a list of one.
  virtual void visit(const char* name, std::vector<int64_t>& v, Check check, bool required) = 0;
  virtual void visit(const char* name, std::string& v, Check check, bool required) = 0;
  virtual void visit(const char* name, std::shared_ptr<Module>& v, Check check, bool required) = 0;
  virtual void visit(const char* name, Named<std::shared_ptr<Module>>& v, Check check, bool required) = 0;
};

// A registered type: how to build one from a description and how to describe one.
struct ModuleType {
  std::string name;
  std::type_index type;
  std::function<std::shared_ptr<Module>(Fields&)> build;
  std::function<void(const Module&, Fields&)> describe;
};

// Adds a type (registering the same C++ type under the same name again is a no-op; another type
// under a taken name is an error). Returns true, for the registration macros below.
bool register_type(ModuleType type);
const ModuleType* find_type(const std::string& name);
const ModuleType* find_type(std::type_index type);
std::vector<std::string> registered_names();  // sorted

namespace registry_detail {

template <typename Impl>
concept HasConfig = requires(const Impl& m) { m.config(); };
template <typename Impl>
concept HasOptions = requires(const Impl& m) { m.options; };

// The ModuleType of Impl: its config is Impl::config() or else its member `options`, and it is
// built by Impl(config); a type with neither has no fields and is built by Impl().
template <typename Impl>
ModuleType module_type(const std::string& name) {
  ModuleType t{name, typeid(Impl), nullptr, nullptr};
  if constexpr (HasConfig<Impl> || HasOptions<Impl>) {
    auto config_of = [](const Impl& m) {
      if constexpr (HasConfig<Impl>) return m.config();
      else return m.options;
    };
    using Options = std::remove_cvref_t<decltype(config_of(std::declval<const Impl&>()))>;
    t.build = [](Fields& f) -> std::shared_ptr<Module> {
      Options o;
      o.fields(f);
      return std::make_shared<Impl>(o);
    };
    t.describe = [config_of](const Module& m, Fields& f) {
      Options o = config_of(static_cast<const Impl&>(m));
      o.fields(f);
    };
  } else {
    t.build = [](Fields&) -> std::shared_ptr<Module> { return std::make_shared<Impl>(); };
    t.describe = [](const Module&, Fields&) {};
  }
  return t;
}

}  // namespace registry_detail

template <typename Impl>
bool register_module_type(const std::string& name) {
  return register_type(registry_detail::module_type<Impl>(name));
}

}  // namespace wick::nn

#define WICK_REGISTRY_CAT2(a, b) a##b
#define WICK_REGISTRY_CAT(a, b) WICK_REGISTRY_CAT2(a, b)

// Registers the C++ type Impl under `name`, at namespace scope in a .cpp (a user's module):
//   WICK_REGISTER(MyBlockImpl, "MyBlock");
#define WICK_REGISTER(Impl, name)                                                    \
  [[maybe_unused]] static const bool WICK_REGISTRY_CAT(wick_registered_, __LINE__) = \
      ::wick::nn::register_module_type<Impl>(name)

// Registers NameImpl as "Name" (the form of WICK_MODULE(Name)); usable in a header.
#define WICK_REGISTER_MODULE(Name) \
  inline const bool Name##_registered_ = ::wick::nn::register_module_type<Name##Impl>(#Name)
