// Flag checks shared by the wick subcommands.
#include "flags.h"

namespace wick::cli {
namespace {

CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v)) return "expected a number, got \"" + s + "\"";
        if (v > 0 || (allow_zero && v == 0)) return {};
        return std::string("must be ") + (allow_zero ? "zero or more" : "a positive number") + ", got " + s;
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}

}  // namespace

const CLI::Validator& positive_number() {
  static const CLI::Validator v = number_check(false);
  return v;
}

const CLI::Validator& nonnegative_number() {
  static const CLI::Validator v = number_check(true);
  return v;
}

}  // namespace wick::cli
