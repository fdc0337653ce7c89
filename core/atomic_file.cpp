// write_file_atomic: temporary file + rename.
#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace wick {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    WICK_CHECK(out.good(), "cannot open ", tmp, " for writing: ", std::strerror(errno));
    write(out);
    out.flush();
    WICK_CHECK(out.good(), "writing ", tmp, " failed (disk full?)");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    detail::fail("cannot move ", tmp, " to ", path, ": ", ec.message());
  }
}

}  // namespace wick
