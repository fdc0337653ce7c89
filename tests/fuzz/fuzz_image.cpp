// libFuzzer target: bytes as an image file (data::load_image: stb_image behind wick's checks)
// (targets.h).
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wick::fuzz::image(data, size);
  return 0;
}
