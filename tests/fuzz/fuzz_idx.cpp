// libFuzzer target: bytes as an IDX file, plain or gzip (data::read_idx)
// (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::idx(data, size);
  return 0;
}
