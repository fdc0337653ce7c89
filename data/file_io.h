// File helpers shared by the dataset readers: size checks before any allocation, whole-file reads,
// and a zlib reader that takes plain or gzip-compressed files and turns every failure into a
// wick::Error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wick::data::detail {

bool is_file(const std::string& path);
// The size of an existing regular file; throws "<who>: cannot read <path>: ..." otherwise.
uint64_t file_size(const std::string& path, const std::string& who);
// The whole file; throws when it is missing, unreadable, or larger than max_bytes.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes, const std::string& who);

// Reads a file through zlib: gzip data is decompressed, anything else is read as it is.
class GzReader {
 public:
  GzReader(const std::string& path, const std::string& who);
  ~GzReader();
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads exactly n bytes; throws "truncated" or "corrupt gzip data" errors naming the file and
  // `what` (e.g. "header", "pixels").
  void read(void* dst, uint64_t n, const char* what);
  // Reads exactly n bytes into out (resized). Compressed data is read in chunks, so the buffer
  // only grows with data actually there: a header lying about its size cannot cause a huge
  // allocation.
  void read_into(std::vector<uint8_t>& out, uint64_t n, const char* what);
  // True when nothing is left; throws on corrupt data.
  bool at_end();
  bool compressed();             // valid after the first read
  uint64_t stored_size() const { return stored_size_; }  // bytes on disk
  // The most bytes this file can produce: its size when plain, a deflate bound when compressed.
  uint64_t max_content_bytes();
  const std::string& path() const { return path_; }

 private:
  // Reads up to n bytes, stopping early only at the end of the data; returns how many. Errors
  // report `base` + what was read against `wanted`.
  uint64_t read_some(unsigned char* dst, uint64_t n, uint64_t base, uint64_t wanted, const char* what);
  [[noreturn]] void fail_read(uint64_t got, uint64_t wanted, const char* what);
  void* file_ = nullptr;  // gzFile
  std::string path_, who_;
  uint64_t stored_size_ = 0;
};

}  // namespace wick::data::detail
