// libFuzzer target: bytes as module state JSON (nn::apply_module_state) on a small fixed model with
// BatchNorms in every configuration (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::module_state(data, size);
  return 0;
}
