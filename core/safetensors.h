// The safetensors file format (what PyTorch and Hugging Face users share): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the bytes.
// wick reads and writes F32 and I64 tensors. Reading checks every bound; writing is atomic.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor.h"

namespace wick {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order of their data
  std::map<std::string, std::string> metadata;          // the "__metadata__" entries
};

// Writes to a temporary file beside `path`, then renames it over `path`.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Throws wick::Error naming the file and the problem for anything malformed: short or truncated
// file, a header length past the end, bad JSON, unknown dtypes, offsets out of range or
// overlapping, byte counts that disagree with the shape.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace wick
