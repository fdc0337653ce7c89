// libFuzzer target: bytes as a CIFAR-10 batch file (data::CIFAR10)
// (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::cifar(data, size);
  return 0;
}
