// Flag checks and flag groups shared by the wick subcommands.
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

void add_data_shape_flags(CLI::App* cmd, DataArgs& data) {
  cmd->add_option("--data", data.data, "fashion-mnist | mnist | cifar10 | folder:DIR | synthetic: its image shape and classes")
      ->capture_default_str();
  cmd->add_option("--data-dir", data.data_dir, "dataset folder");
  cmd->add_option("--image-size", data.image_size, "folder:DIR images are resized to this square")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--channels", data.channels, "folder:DIR images are converted to 1 or 3 channels")
      ->check(CLI::IsMember({1, 3}))
      ->capture_default_str();
}

}  // namespace wick::cli
