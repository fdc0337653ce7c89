// libFuzzer target: bytes as a weights file (nn::load_module: the safetensors reader, then the
// architecture in its metadata), with a save/load round trip (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::load_module(data, size);
  return 0;
}
