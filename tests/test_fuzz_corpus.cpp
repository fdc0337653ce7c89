// The fuzzers' committed corpus and every input that ever crashed them (tests/fuzz/corpus/<target>,
// tests/fuzz/crashes/<target>), replayed through the fuzzers' own targets (tests/fuzz/targets.h):
// each input is accepted or refused with a wick::Error and nothing else; inputs named ok_* must be
// accepted and bad_* refused.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "fuzz/targets.h"
#include "helpers.h"

namespace fs = std::filesystem;

namespace {

using Target = bool (*)(const uint8_t*, size_t);

// Replays every file under tests/fuzz/<dir>, in name order; returns how many there were.
int replay(const std::string& dir, Target target) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(fs::path(WICK_FUZZ_DIR) / dir))
    if (e.is_regular_file()) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    const std::string name = path.filename().string();
    INFO(dir, "/", name);
    bool accepted = false;
    CHECK_NOTHROW(accepted = target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (name.starts_with("ok_")) CHECK_MESSAGE(accepted, "expected it to be accepted");
    if (name.starts_with("bad_")) CHECK_MESSAGE(!accepted, "expected it to be refused");
  }
  return static_cast<int>(paths.size());
}

}  // namespace

TEST_CASE("fuzz corpus: architecture descriptions build or are refused with wick::Error") {
  CHECK(replay("corpus/architecture", wick::fuzz::architecture) >= 50);
}

TEST_CASE("fuzz corpus: weight files load or are refused with wick::Error") {
  CHECK(replay("corpus/load_module", wick::fuzz::load_module) >= 20);
}

TEST_CASE("fuzz corpus: module states apply or are refused with wick::Error") {
  CHECK(replay("corpus/module_state", wick::fuzz::module_state) >= 10);
}

TEST_CASE("fuzz corpus: checkpoint run.json files read or are refused with wick::Error") {
  CHECK(replay("corpus/checkpoint", wick::fuzz::checkpoint) >= 10);
}

TEST_CASE("fuzz corpus: IDX files, CIFAR batches, images and optimizer states read or are refused with wick::Error") {
  CHECK(replay("corpus/idx", wick::fuzz::idx) >= 5);
  CHECK(replay("corpus/cifar", wick::fuzz::cifar) >= 3);
  CHECK(replay("corpus/image", wick::fuzz::image) >= 5);
  CHECK(replay("corpus/optimizer_state", wick::fuzz::optimizer_state) >= 5);
}

TEST_CASE("fuzz crashes: every input that once crashed a fuzzer is now handled") {
  int n = 0;
  for (const auto& [dir, target] : {std::pair<const char*, Target>{"crashes/architecture", wick::fuzz::architecture},
                                    {"crashes/load_module", wick::fuzz::load_module},
                                    {"crashes/module_state", wick::fuzz::module_state},
                                    {"crashes/image", wick::fuzz::image}})
    if (fs::exists(fs::path(WICK_FUZZ_DIR) / dir)) n += replay(dir, target);
  CHECK(n > 0);
}
