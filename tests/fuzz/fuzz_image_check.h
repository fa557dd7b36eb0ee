// The property both image fuzz targets (fuzz_png.cpp, fuzz_jpeg.cpp) hold a decoder to: a
// rejected file says why; an accepted one holds width * height * 3 bytes within the pixel
// limit (small, so a hostile header cannot ask for a large buffer).
#pragma once

#include <cstddef>
#include <cstdint>

#include "daemon/media/image_decoder.h"

template <typename Decode>
int fuzz_image_decoder(const std::uint8_t* data, std::size_t size, Decode decode) {
  gemmad::media::MediaLimits limits;
  limits.max_image_pixels = 1u << 20;
  auto r = decode(std::span<const std::uint8_t>(data, size), limits);
  if (!r.ok()) {
    if (r.error().message.empty()) __builtin_trap();
    return 0;
  }
  const std::uint64_t pixels = std::uint64_t{r->width} * r->height;
  if (pixels == 0 || pixels > limits.max_image_pixels) __builtin_trap();
  if (r->rgb.size() != pixels * 3) __builtin_trap();
  return 0;
}
