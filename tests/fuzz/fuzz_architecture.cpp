// libFuzzer target: bytes as a JSON architecture (nn::module_from_json), with its round trips
// (targets.h). Run it with `make fuzz`; docs/fuzzing.md says more.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::architecture(data, size);
  return 0;
}
