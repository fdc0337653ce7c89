// The registry's two indexes (by name, by C++ type), and type_name() for every module.
#include "layers/registry.h"

#include <cxxabi.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

namespace wick::nn {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, ModuleType> by_name;
  std::unordered_map<std::type_index, std::string> name_of;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: modules may outlive static destruction
  return *r;
}

}  // namespace

bool register_type(ModuleType type) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_name.find(type.name);
  if (it != r.by_name.end()) {
    WICK_CHECK(it->second.type == type.type, "register module type \"", type.name,
               "\": the name is already taken by another type");
    return true;
  }
  WICK_CHECK(!type.name.empty() && type.name.find_first_of(" .\"") == std::string::npos,
             "register module type \"", type.name, "\": a name is non-empty, without spaces, dots or quotes");
  r.name_of[type.type] = type.name;
  r.by_name.emplace(type.name, std::move(type));
  return true;
}

const ModuleType* find_type(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : &it->second;  // entries never move or go away
}

const ModuleType* find_type(std::type_index type) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.name_of.find(type);
  return it == r.name_of.end() ? nullptr : &r.by_name.at(it->second);
}

std::vector<std::string> registered_names() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& [name, t] : r.by_name) out.push_back(name);
  return out;
}

std::string Module::type_name() const {
  if (const ModuleType* t = find_type(typeid(*this))) return t->name;
  int status = 0;
  char* demangled = abi::__cxa_demangle(typeid(*this).name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : typeid(*this).name();
  std::free(demangled);
  return name;
}

}  // namespace wick::nn
