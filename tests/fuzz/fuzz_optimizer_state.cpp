// libFuzzer target: bytes as an optimizer state file (Optimizer::load_state, then a round trip)
// (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::optimizer_state(data, size);
  return 0;
}
