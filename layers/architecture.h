// Architectures as JSON: a module tree described by its registered types and configs, e.g.
//   {"type": "Sequential", "layers": [{"type": "Conv2d", "in_channels": 1, "out_channels": 32,
//    "kernel_size": 3, "padding": 1}, {"type": "BatchNorm2d", "num_features": 32}, ...]}
// wick stores this in its weight files, `wick train --model FILE.json` reads it, and clone() is
// built on it. The format is in docs/modules.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "module.h"
#include "../core/options.h"

namespace wick::nn {

// What a description may ask for before it is refused (each refusal names where and what).
struct ArchitectureLimits {
  WICK_ARG(int64_t, max_depth) = 64;          // modules nested inside modules
  WICK_ARG(int64_t, max_modules) = 100000;    // modules in the whole tree
  WICK_ARG(int64_t, max_bytes) = int64_t(2) << 30;  // tensors allocated while building
};

// The JSON description of a module tree (indent < 0: one line). Throws wick::Error naming the
// first module whose type is not registered.
std::string architecture_json(const Module& module, int indent = -1);

// A fresh module tree (parameters newly initialized) from a description. A bad one throws one line
// naming where and what: "layers[3].out_channels: expected a positive integer, got -2".
std::shared_ptr<Module> module_from_json(const std::string& text, const ArchitectureLimits& limits = {});

// The same from a file (FILE.json); errors start with the file's name.
std::shared_ptr<Module> load_architecture(const std::string& path, const ArchitectureLimits& limits = {});

// State that is not a tensor nor part of a config (BatchNorm modes), by dotted module name, as
// JSON ("{}" when every module is in its default state); apply_module_state sets it back.
std::string module_state_json(const Module& module);
void apply_module_state(Module& module, const std::string& json);

}  // namespace wick::nn
