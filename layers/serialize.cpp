// state_dict, save, load (checked, all-or-nothing) and load_module.
#include "layers/serialize.h"

#include <map>

#include "core/autograd.h"
#include "core/allocator.h"
#include "layers/architecture.h"
#include "layers/init.h"

namespace wick::nn {
namespace {

void collect_state(const Module& m, const std::string& prefix, Named<Tensor>& out) {
  for (auto& [n, t] : m.named_parameters(false)) out.emplace_back(prefix + n, t);
  for (auto& [n, t] : m.named_buffers(false)) out.emplace_back(prefix + n, t);
  for (auto& [n, c] : m.named_children()) collect_state(*c, prefix + n + ".", out);
}

const char* st_name(Dtype d) { return d == Dtype::Float32 ? "F32" : "I64"; }

}  // namespace

Named<Tensor> state_dict(const Module& module) {
  Named<Tensor> out;
  collect_state(module, "", out);
  return out;
}

void save(const Module& module, const std::string& path) {
  std::map<std::string, std::string> metadata{{"format", "pt"}};
  metadata["wick.module_state"] = module_state_json(module);
  try {
    metadata["wick.architecture"] = architecture_json(module);
  } catch (const Error& e) {
    metadata["wick.no_architecture"] = e.what();
  }
  write_safetensors(path, state_dict(module), metadata);
}

void load(Module& module, const SafetensorsFile& file, const std::string& path, bool strict) {
  std::map<std::string, Tensor> in_file(file.tensors.begin(), file.tensors.end());
  Named<Tensor> state = state_dict(module);
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  for (auto& [name, dst] : state) {
    auto it = in_file.find(name);
    if (it == in_file.end()) {
      WICK_CHECK(!strict, "load ", path, ": the file has no \"", name, "\" (", module.type_name(), " expects ",
                 state.size(), " tensors, the file holds ", in_file.size(), "); load non-strict to skip missing keys");
      continue;
    }
    const Tensor& src = it->second;
    WICK_CHECK(src.dtype() == dst.dtype(), "load ", path, ": \"", name, "\" is ", st_name(src.dtype()),
               " in the file but ", st_name(dst.dtype()), " in the model");
    WICK_CHECK(src.shape() == dst.shape(), "load ", path, ": \"", name, "\" has shape ", shape_str(src.shape()),
               " in the file but ", shape_str(dst.shape()), " in the model");
    copies.emplace_back(dst, src);
    in_file.erase(it);
  }
  WICK_CHECK(!strict || in_file.empty(), "load ", path, ": unexpected tensor \"",
             in_file.empty() ? "" : in_file.begin()->first, "\" that the model (", module.type_name(),
             ") does not have; load non-strict to skip unexpected keys");
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
}

void load(Module& module, const std::string& path, bool strict) {
  load(module, read_safetensors(path), path, strict);
}

bool has_architecture(const SafetensorsFile& file) {
  auto it = file.metadata.find("wick.architecture");
  return it != file.metadata.end() && !it->second.empty() && it->second[0] == '{';
}

std::shared_ptr<Module> load_module(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  if (!has_architecture(file)) {
    auto why = file.metadata.find("wick.no_architecture");
    WICK_CHECK(!file.metadata.count("wick.architecture"), "load ", path,
               ": the file stores its architecture as a printout (wick 0.1), which is no longer read; build the "
               "model yourself, nn::load these weights and nn::save it again to store the JSON architecture");
    detail::fail("load ", path, ": the file does not describe its architecture (",
                 why != file.metadata.end() ? why->second : "not written by wick",
                 "); build the model yourself and use nn::load");
  }
  int64_t bytes = 0;
  for (const auto& [name, t] : file.tensors) bytes += t.numel() * static_cast<int64_t>(element_size(t.dtype()));
  std::shared_ptr<Module> model;
  try {
    init::SkipInit skip;  // every tensor is loaded below
    model = module_from_json(file.metadata.at("wick.architecture"),
                             ArchitectureLimits().max_bytes(bytes + (int64_t(1) << 20)));
    auto state = file.metadata.find("wick.module_state");
    if (state != file.metadata.end()) apply_module_state(*model, state->second);
  } catch (const Error& e) {
    detail::fail("load ", path, ": ", e.what());
  }
  load(*model, file, path, true);
  return model;
}

}  // namespace wick::nn
