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
#include "data/data.h"
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

// A scratch folder of this process, removed at exit.
inline const std::string& scratch_folder(const char* tag) {
  struct Folder {
    std::string path;
    ~Folder() { std::filesystem::remove_all(path); }
  };
  static thread_local std::map<std::string, Folder> folders;
  Folder& f = folders[tag];
  if (f.path.empty()) {
    f.path = (std::filesystem::temp_directory_path() / ("wick_fuzz_" + std::to_string(::getpid()) + "_" + tag)).string();
    std::filesystem::create_directories(f.path);
  }
  return f.path;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  expect(out.good(), "cannot write " + path);
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
  write_bytes(in, data, size);
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
  write_bytes(scratch_folder("ckpt") + "/run.json", data, size);
  train::CheckpointInfo info;
  try {
    info = train::read_checkpoint(scratch_folder("ckpt"));
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

// Bytes as an IDX file (plain or gzip) -> data::read_idx, with the dimension count its header byte
// asks for (1 to 3). An array read holds exactly the bytes its dimensions say.
inline bool idx(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file("idx");
  write_bytes(path, data, size);
  const int64_t ndim = size > 3 && data[3] >= 1 && data[3] <= 3 ? data[3] : 3;
  data::IdxArray a;
  try {
    a = data::read_idx(path, ndim, "fuzz");
  } catch (const Error&) {
    return false;
  }
  int64_t n = 1;
  for (int64_t d : a.dims) n *= d;
  expect(static_cast<int64_t>(a.dims.size()) == ndim && n == static_cast<int64_t>(a.data.size()),
         "IDX dims and data disagree");
  return true;
}

// Bytes as CIFAR-10's test_batch.bin -> data::CIFAR10. A set read has one image per 3073 bytes.
inline bool cifar(const uint8_t* data, size_t size) {
  const std::string& dir = scratch_folder("cifar");
  write_bytes(dir + "/test_batch.bin", data, size);
  try {
    data::CIFAR10 set(dir, data::Split::Test);
    expect(set.size() * 3073 == static_cast<int64_t>(size), "CIFAR size");
    if (set.size() > 0) (void)set.get_batch({set.size() - 1});
  } catch (const Error&) {
    return false;
  }
  return true;
}

// Bytes as an image file (PNG, JPEG, BMP, ...) -> data::load_image at 8x8 RGB. An image read is a
// finite (3, 8, 8) tensor in [0, 1].
inline bool image(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file("image");
  write_bytes(path, data, size);
  Tensor t;
  try {
    t = data::load_image(path, data::LoadImageOptions(8, 8));
  } catch (const Error&) {
    return false;
  }
  expect(t.shape() == Shape{3, 8, 8}, "image shape");
  for (float v : t.to_vector<float>()) expect(v >= 0 && v <= 1, "pixel outside [0, 1]");
  return true;
}

// Bytes as a state file -> Optimizer::load_state of Adam over two fixed parameters ({3} and
// {2, 2}, two groups). State loaded must save and load again to the same state.
inline bool optimizer_state(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file("optimizer");
  write_bytes(path, data, size);
  Tensor a = zeros({3}).requires_grad_(), b = zeros({2, 2}).requires_grad_();
  optim::Adam opt({optim::ParamGroup({a}), optim::ParamGroup({b})}, optim::AdamOptions(0.01));
  try {
    opt.load_state(path);
  } catch (const Error&) {
    return false;
  }
  const std::string& again = scratch_file("optimizer_again");
  opt.save_state(again);
  optim::Adam opt2({optim::ParamGroup({a}), optim::ParamGroup({b})}, optim::AdamOptions(0.01));
  opt2.load_state(again);
  for (const Tensor& p : {a, b}) {
    expect(opt.has_state(p) == opt2.has_state(p), "state presence after a round trip");
    if (opt.has_state(p)) expect(opt.state(p).step == opt2.state(p).step, "step after a round trip");
  }
  expect(opt.lr(1) == opt2.lr(1), "lr after a round trip");
  return true;
}

}  // namespace wick::fuzz
