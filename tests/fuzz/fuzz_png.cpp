// libFuzzer target for request images as PNG: arbitrary bytes through media::decode_png,
// held to fuzz_image_check.h's property.
#include "tests/fuzz/fuzz_image_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return fuzz_image_decoder(data, size, gemmad::media::decode_png);
}
