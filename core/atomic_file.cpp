// write_file_atomic: temporary file, fsync, rename, fsync of the folder; temporaries that a killed
// writer left behind are removed by the next write of the same file.
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

// Removes "<name>.tmp.<pid>" files beside `path` whose process no longer exists (killed mid-write).
void remove_stale_temporaries(const fs::path& path) {
  const std::string prefix = path.filename().string() + ".tmp.";
  std::error_code ec;
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    if (pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  remove_stale_temporaries(path);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
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
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    detail::fail("cannot move ", tmp, " to ", path, ": ", ec.message());
  }
  fs::path dir = fs::path(path).parent_path();
  sync_path(dir.empty() ? "." : dir.string(), O_DIRECTORY);
}

}  // namespace wick
