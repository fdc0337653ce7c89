// Saving and loading module weights as safetensors with PyTorch's state_dict names, so weights
// move both ways between wick and PyTorch. wick's files also carry the model's architecture (its
// JSON description, layers/architecture.h) and BatchNorm modes in the metadata, so load_module
// can rebuild the model from the file alone.
#pragma once
#include <memory>
#include <string>

#include "module.h"
#include "../core/safetensors.h"

namespace wick::nn {

// PyTorch's state_dict: each module's parameters, then its buffers, then its children's, with
// dotted names ("0.weight", "1.running_mean", "1.num_batches_tracked", ...).
Named<Tensor> state_dict(const Module& module);

// Atomic (temporary file, then rename). Metadata: "format": "pt", "wick.architecture": the JSON
// description, "wick.module_state": BatchNorm modes. A tree with an unregistered module is saved
// without an architecture (its weights still load with nn::load); "wick.no_architecture" says why.
// nn::load copies tensors only; load_module and train::load_checkpoint also apply the modes.
void save(const Module& module, const std::string& path);

// Copies the file's tensors into the module's parameters and buffers. Every key, dtype and shape is
// checked before anything is copied, so a failed load leaves the module unchanged. strict: the
// file's keys must be exactly the module's (missing or unexpected keys are errors); non-strict:
// keys on one side only are skipped, but a key on both sides must still match in dtype and shape.
void load(Module& module, const std::string& path, bool strict = true);
// The same from a file already read (`path` names it in errors).
void load(Module& module, const SafetensorsFile& file, const std::string& path, bool strict = true);

// Rebuilds the model a wick file describes (its "wick.architecture" metadata) and loads it. The
// description may allocate no more than the file's tensors hold (so a hostile file fails before
// it costs memory); every tensor is then checked as nn::load does.
std::shared_ptr<Module> load_module(const std::string& path);
// Whether a file read by read_safetensors carries an architecture load_module can rebuild.
bool has_architecture(const SafetensorsFile& file);

template <typename Impl>
void save(const ModuleHolder<Impl>& module, const std::string& path) {
  save(*module, path);
}
template <typename Impl>
void load(const ModuleHolder<Impl>& module, const std::string& path, bool strict = true) {
  load(*module, path, strict);
}

}  // namespace wick::nn
