// libFuzzer target: bytes as a checkpoint's run.json (train::read_checkpoint, then the generator
// state restored) (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::checkpoint(data, size);
  return 0;
}
