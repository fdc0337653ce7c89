// The fuzz targets' bodies, shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp) and the
// regression test that replays their corpus and crashes (tests/test_fuzz_corpus.cpp). Each takes
// raw bytes and returns whether they were accepted (true) or refused with a wick::Error (false).
// Anything else is a bug: another exception escaping (a broken round trip throws std::logic_error),
// a crash, a sanitizer report, a hang or a huge allocation.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "core/random.h"
#include "layers/nn.h"
#include "optim/optim.h"

namespace wick::fuzz {

// Small enough that every input runs in milliseconds.
inline nn::ArchitectureLimits limits() { return nn::ArchitectureLimits().max_bytes(64 << 20).max_modules(200); }

inline void expect(bool ok, const std::string& what) {
  if (!ok) throw std::logic_error("fuzz: " + what);
}

inline std::string text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// A scratch file of this process, removed at exit.
inline const std::string& scratch_file(const char* tag) {
  struct File {
    std::string path;
    ~File() { std::filesystem::remove(path); }
  };
  static thread_local std::map<std::string, File> files;
  File& f = files[tag];
  if (f.path.empty())
    f.path = (std::filesystem::temp_directory_path() /
              ("wick_fuzz_" + std::to_string(::getpid()) + "_" + tag + ".safetensors")).string();
  return f.path;
}

// Bytes -> module_from_json. A module built must describe itself, its description must build the
// same module again, and clone, the printout and fuse_for_inference must work on it.
inline bool architecture(const uint8_t* data, size_t size) {
  std::shared_ptr<nn::Module> m;
  try {
    m = nn::module_from_json(text(data, size), limits());
  } catch (const Error&) {
    return false;
  }
  const std::string json = nn::architecture_json(*m);
  expect(nn::architecture_json(*nn::module_from_json(json, limits())) == json, "rebuilt from " + json);
  expect(nn::architecture_json(*m->clone()) == json, "cloned " + json);
  (void)m->repr();
  try {
    (void)nn::fuse_for_inference(*m);
  } catch (const Error&) {
  }
  return true;
}

// Bytes as a file -> load_module. A module loaded must save and load again to the same description,
// module state and tensors.
inline bool load_module(const uint8_t* data, size_t size) {
  const std::string& in = scratch_file("in");
  {
    std::ofstream out(in, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    expect(out.good(), "cannot write " + in);
  }
  std::shared_ptr<nn::Module> m;
  try {
    m = nn::load_module(in);
  } catch (const Error&) {
    return false;
  }
  const std::string& again = scratch_file("again");
  nn::save(*m, again);
  auto m2 = nn::load_module(again);
  expect(nn::architecture_json(*m2) == nn::architecture_json(*m), "saved and loaded " + nn::architecture_json(*m));
  expect(nn::module_state_json(*m2) == nn::module_state_json(*m), "state of " + nn::module_state_json(*m));
  auto s1 = nn::state_dict(*m), s2 = nn::state_dict(*m2);
  expect(s1.size() == s2.size(), "tensor count after a round trip");
  for (size_t i = 0; i < s1.size(); ++i)
    expect(s1[i].first == s2[i].first && equal(s1[i].second, s2[i].second), "tensor " + s1[i].first + " after a round trip");
  return true;
}

// A small model with every kind of module state: BatchNorms of both kinds, one without running
// statistics, named children, a Residual.
inline std::shared_ptr<nn::Module> state_model() {
  static const auto model = nn::module_from_json(R"({"type": "Sequential", "layers": [
    {"type": "Conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
    {"name": "bn", "type": "BatchNorm2d", "num_features": 2},
    {"type": "Residual", "layers": [{"type": "BatchNorm2d", "num_features": 2, "track_running_stats": false}],
     "activation": {"type": "ReLU"}},
    {"type": "Flatten"}, {"type": "BatchNorm1d", "num_features": 8}]})");
  return model->clone();
}

// Bytes -> apply_module_state on state_model(). State applied must read back and apply again the same.
inline bool module_state(const uint8_t* data, size_t size) {
  auto m = state_model();
  try {
    nn::apply_module_state(*m, text(data, size));
  } catch (const Error&) {
    return false;
  }
  const std::string state = nn::module_state_json(*m);
  auto m2 = state_model();
  nn::apply_module_state(*m2, state);
  expect(nn::module_state_json(*m2) == state, "state " + state + " applied again");
  return true;
}

// Bytes as a checkpoint's run.json -> train::read_checkpoint. A state read must be consistent (one
// logged step per step, one finished epoch per epoch before the current one), and its generator
// state is restored or refused with a wick::Error.
inline bool checkpoint(const uint8_t* data, size_t size) {
  static const struct Folder {
    std::string path = (std::filesystem::temp_directory_path() / ("wick_fuzz_" + std::to_string(::getpid()) + "_ckpt")).string();
    Folder() { std::filesystem::create_directories(path); }
    ~Folder() { std::filesystem::remove_all(path); }
  } folder;
  {
    std::ofstream out(folder.path + "/run.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    expect(out.good(), "cannot write " + folder.path);
  }
  train::CheckpointInfo info;
  try {
    info = train::read_checkpoint(folder.path);
  } catch (const Error&) {
    return false;
  }
  const train::RunState& s = info.state;
  expect(static_cast<int64_t>(s.step_log.size()) == s.steps && static_cast<int64_t>(s.epochs.size()) == s.epoch - 1,
         "an inconsistent state was accepted");
  try {
    set_random_state(s.random_state);
  } catch (const Error&) {
  }
  return true;
}

}  // namespace wick::fuzz
