// The warning sink behind wick::warn.
#include "core/warning.h"

#include <cstdio>
#include <mutex>

namespace wick {
namespace {
std::mutex warn_mutex;
std::function<void(const std::string&)>& handler() {
  static std::function<void(const std::string&)> h;
  return h;
}
}  // namespace

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(warn_mutex);
  if (handler()) handler()(message);
  else std::fprintf(stderr, "wick: warning: %s\n", message.c_str());
}

std::function<void(const std::string&)> set_warning_handler(std::function<void(const std::string&)> h) {
  std::lock_guard<std::mutex> lock(warn_mutex);
  auto prev = std::move(handler());
  handler() = std::move(h);
  return prev;
}

}  // namespace wick
