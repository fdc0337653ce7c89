// placeholder, replaced by the helper that owns this file
#include "flags.h"
namespace wick::cli {
Subcommand add_bench(CLI::App& app) {
  Subcommand s;
  s.cmd = app.add_subcommand("bench", "(in progress)");
  s.run = [] { return 1; };
  return s;
}
}  // namespace wick::cli
