// Whole-file reads with size limits and the zlib-backed GzReader (see file_io.h).
#include "data/file_io.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "core/error.h"

namespace wick::data::detail {

namespace fs = std::filesystem;

// zlib's message without the "<path>: " it puts in front.
std::string zlib_message(const char* msg, const std::string& path) {
  std::string m = msg ? msg : "";
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m;
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

uint64_t file_size(const std::string& path, const std::string& who) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  WICK_CHECK(!ec && fs::exists(status), who, ": cannot read ", path, ": no such file");
  WICK_CHECK(fs::is_regular_file(status), who, ": cannot read ", path, ": not a regular file");
  uint64_t size = fs::file_size(path, ec);
  WICK_CHECK(!ec, who, ": cannot read ", path, ": ", ec.message());
  return size;
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes, const std::string& who) {
  uint64_t size = file_size(path, who);
  WICK_CHECK(size <= max_bytes, who, ": ", path, " has ", size, " bytes, more than the ", max_bytes,
             " allowed");
  std::ifstream in(path, std::ios::binary);
  WICK_CHECK(in.good(), who, ": cannot open ", path, ": ", std::strerror(errno));
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  WICK_CHECK(static_cast<uint64_t>(in.gcount()) == size, who, ": could read only ", in.gcount(), " of ", size,
             " bytes of ", path);
  return bytes;
}

GzReader::GzReader(const std::string& path, const std::string& who) : path_(path), who_(who) {
  stored_size_ = file_size(path, who);
  gzFile f = gzopen(path.c_str(), "rb");
  WICK_CHECK(f != nullptr, who, ": cannot open ", path, ": ", std::strerror(errno));
  gzbuffer(f, 1 << 17);
  file_ = f;
}

GzReader::~GzReader() {
  if (file_) gzclose(static_cast<gzFile>(file_));
}

void GzReader::fail_read(uint64_t got, uint64_t wanted, const char* what) {
  int errnum = Z_OK;
  const char* msg = gzerror(static_cast<gzFile>(file_), &errnum);
  if (errnum != Z_OK && errnum != Z_BUF_ERROR)
    wick::detail::fail(who_, ": corrupt gzip data in ", path_, " (", zlib_message(msg, path_), ") while reading the ",
                       what);
  wick::detail::fail(who_, ": ", path_, " is truncated: the ", what, " needs ", wanted, " bytes but only ", got,
                     " are there", errnum == Z_BUF_ERROR ? " (the gzip stream ends early)" : "");
}

uint64_t GzReader::read_some(unsigned char* dst, uint64_t n, uint64_t base, uint64_t wanted, const char* what) {
  uint64_t done = 0;
  while (done < n) {
    auto chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
    int got = gzread(static_cast<gzFile>(file_), dst + done, chunk);
    int errnum = Z_OK;
    gzerror(static_cast<gzFile>(file_), &errnum);
    if (got < 0 || errnum != Z_OK) fail_read(base + done + static_cast<uint64_t>(std::max(got, 0)), wanted, what);
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

void GzReader::read(void* dst, uint64_t n, const char* what) {
  uint64_t got = read_some(static_cast<unsigned char*>(dst), n, 0, n, what);
  if (got < n) fail_read(got, n, what);
}

void GzReader::read_into(std::vector<uint8_t>& out, uint64_t n, const char* what) {
  if (!compressed()) {
    out.resize(n);
    read(out.data(), n, what);
    return;
  }
  constexpr uint64_t kChunk = uint64_t(16) << 20;
  out.clear();
  out.reserve(std::min(n, kChunk));
  while (out.size() < n) {
    uint64_t at = out.size(), want = std::min(kChunk, n - at);
    if (at >= n / 2) out.reserve(n);  // half of it is really there: take the rest in one block
    out.resize(at + want);
    uint64_t got = read_some(out.data() + at, want, at, n, what);
    if (got < want) {
      std::vector<uint8_t>().swap(out);
      fail_read(at + got, n, what);
    }
  }
}

bool GzReader::at_end() {
  unsigned char byte;
  int got = gzread(static_cast<gzFile>(file_), &byte, 1);
  int errnum = Z_OK;
  const char* msg = gzerror(static_cast<gzFile>(file_), &errnum);
  if (errnum != Z_OK && errnum != Z_BUF_ERROR)
    wick::detail::fail(who_, ": corrupt gzip data in ", path_, " (", zlib_message(msg, path_), ")");
  WICK_CHECK(errnum != Z_BUF_ERROR, who_, ": ", path_, " is truncated (the gzip stream ends early)");
  return got == 0;
}

bool GzReader::compressed() { return gzdirect(static_cast<gzFile>(file_)) == 0; }

uint64_t GzReader::max_content_bytes() {
  if (!compressed()) return stored_size_;
  // deflate never compresses better than 1032:1
  return stored_size_ > UINT64_MAX / 1032 ? UINT64_MAX : stored_size_ * 1032;
}

}  // namespace wick::data::detail
