// wick::Error, the one exception type the library throws, and WICK_CHECK, which builds its
// message from streamable pieces so every error can name the op, the shapes and what was expected.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace wick {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace wick

// WICK_CHECK(cond, "op: expected ", a, " but got ", b) throws wick::Error when cond is false.
#define WICK_CHECK(cond, ...)                  \
  do {                                         \
    if (!(cond)) ::wick::detail::fail(__VA_ARGS__); \
  } while (0)
