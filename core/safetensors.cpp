// safetensors reading and writing on top of nlohmann-json, with every offset checked.
#include "core/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"

namespace wick {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB of JSON is far beyond any real model

const char* st_dtype(Dtype d) { return d == Dtype::Float32 ? "F32" : "I64"; }

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> blobs;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    WICK_CHECK(name != "__metadata__" && !header.contains(name), "save ", path, ": duplicate or reserved tensor name \"",
               name, "\"");
    Tensor c = t.detach().contiguous();
    uint64_t bytes = static_cast<uint64_t>(c.numel()) * element_size(c.dtype());
    header[name] = {{"dtype", st_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    blobs.push_back(c);
  }
  std::string head = header.dump();
  head.append((8 - head.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as the format suggests
  std::string prefix;
  put_u64(prefix, head.size());

  write_file_atomic(path, [&](std::ostream& out) {
    out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const Tensor& c : blobs) {
      size_t esize = element_size(c.dtype());
      const char* bytes = static_cast<const char*>(c.impl()->storage->data()) + c.offset() * static_cast<int64_t>(esize);
      out.write(bytes, static_cast<std::streamsize>(c.numel() * static_cast<int64_t>(esize)));
    }
  });
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  WICK_CHECK(!ec, "load ", path, ": cannot read the file (", ec.message(), ")");
  WICK_CHECK(size >= 8, "load ", path, ": not a safetensors file (", size, " bytes, shorter than the 8-byte header length)");
  std::ifstream in(path, std::ios::binary);
  WICK_CHECK(in.good(), "load ", path, ": cannot open the file");
  unsigned char lenbuf[8];
  in.read(reinterpret_cast<char*>(lenbuf), 8);
  uint64_t hlen = get_u64(lenbuf);
  WICK_CHECK(hlen <= size - 8 && hlen <= kMaxHeader, "load ", path, ": header length ", hlen,
             " runs past the end of the file (", size, " bytes): truncated or not a safetensors file");
  std::string head(hlen, '\0');
  in.read(head.data(), static_cast<std::streamsize>(hlen));
  json header;
  try {
    header = json::parse(head);
  } catch (const json::exception& e) {
    detail::fail("load ", path, ": the header is not valid JSON (", e.what(), ")");
  }
  WICK_CHECK(header.is_object(), "load ", path, ": the header is not a JSON object");
  const uint64_t data_size = size - 8 - hlen;

  SafetensorsFile file;
  struct Entry {
    std::string name;
    Dtype dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      WICK_CHECK(v.is_object(), "load ", path, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        WICK_CHECK(m.value().is_string(), "load ", path, ": __metadata__ value for \"", m.key(), "\" is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { detail::fail("load ", path, ": tensor \"", name, "\": ", what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad("entry needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) bad("dtype is not a string");
    std::string dt = v["dtype"].get<std::string>();
    Entry e{name, Dtype::Float32, {}, 0, 0};
    if (dt == "F32") e.dtype = Dtype::Float32;
    else if (dt == "I64") e.dtype = Dtype::Int64;
    else bad("unsupported dtype " + dt + " (wick reads F32 and I64)");
    if (!v["shape"].is_array()) bad("shape is not an array");
    uint64_t numel = 1, extent = 1;  // extent counts a 0 as 1: what the strides reach
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) bad("shape has a non-integer or negative dimension");
      uint64_t n = d.get<uint64_t>();
      if (n > (1ull << 40) || (n && extent > (1ull << 40) / n)) bad("shape is absurdly large");
      numel *= n;
      extent *= std::max<uint64_t>(n, 1);
      e.shape.push_back(static_cast<int64_t>(n));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] run past the " +
          std::to_string(data_size) + " data bytes (truncated file?)");
    if (e.end - e.begin != numel * element_size(e.dtype))
      bad("shape " + shape_str(e.shape) + " of " + dt + " needs " + std::to_string(numel * element_size(e.dtype)) +
          " bytes but data_offsets cover " + std::to_string(e.end - e.begin));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    WICK_CHECK(entries[i].begin >= entries[i - 1].end, "load ", path, ": tensors \"", entries[i - 1].name, "\" and \"",
               entries[i].name, "\" overlap");

  std::vector<char> data(data_size);
  in.read(data.data(), static_cast<std::streamsize>(data_size));
  WICK_CHECK(static_cast<uint64_t>(in.gcount()) == data_size, "load ", path, ": the file ended early");
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.impl()->storage->data(), data.data() + e.begin, e.end - e.begin);
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

}  // namespace wick
