// write_file_atomic and write_folder_atomic: temporary file (folder), fsync, rename, fsync of the
// parent folder; temporaries that a killed writer left behind are removed by the next write of
// the same name.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace wick {
namespace {

namespace fs = std::filesystem;

// Flushes a file's (or a folder's) data to the disk, so a crash after the rename cannot leave an
// empty or partial file under the final name.
void sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), O_RDONLY | flags);
  WICK_CHECK(fd >= 0, "cannot open ", path, " to flush it: ", std::strerror(errno));
  const bool ok = ::fsync(fd) == 0 || errno == EINVAL;  // EINVAL: a file system without fsync
  const int err = errno;
  ::close(fd);
  WICK_CHECK(ok, "cannot flush ", path, " to disk: ", std::strerror(err));
}

std::string folder_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? "." : dir.string();
}

// Renames `from` to `to` and flushes the folder of `to`; on failure removes `from` and throws.
void commit(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove_all(from, ignored);
    detail::fail("cannot move ", from, " to ", to, ": ", ec.message());
  }
  sync_path(folder_of(to), O_DIRECTORY);
}

std::string temporary_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

}  // namespace

void remove_stale_temporaries(const std::string& folder, const std::function<bool(const std::string&)>& matches) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos || !matches(name.substr(0, tmp))) continue;
    const std::string pid = name.substr(tmp + 5);
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string file = fs::path(path).filename().string();
  remove_stale_temporaries(folder_of(path), [&](const std::string& stem) { return stem == file; });
  const std::string tmp = temporary_name(path);
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    WICK_CHECK(out.good(), "cannot open ", tmp, " for writing: ", std::strerror(errno));
    write(out);
    out.close();
    WICK_CHECK(!out.fail(), "writing ", tmp, " failed (disk full?)");
    sync_path(tmp, 0);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  commit(tmp, path);
}

void write_folder_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string name = fs::path(path).filename().string();
  remove_stale_temporaries(folder_of(path), [&](const std::string& stem) { return stem == name; });
  WICK_CHECK(!fs::exists(path), "cannot write the folder ", path, ": it exists already");
  const std::string tmp = temporary_name(path);
  std::error_code ec;
  fs::create_directory(tmp, ec);
  WICK_CHECK(!ec, "cannot create the folder ", tmp, ": ", ec.message());
  try {
    write(tmp);
    sync_path(tmp, O_DIRECTORY);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  commit(tmp, path);
}

}  // namespace wick
