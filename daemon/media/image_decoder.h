// Decodes request images (PNG through libpng, JPEG through libjpeg-turbo) into RGB8, with the
// byte and pixel limits checked before the pixel buffer exists. A bad file is an error value
// naming what is wrong; nothing here aborts on hostile bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/media/media_limits.h"

namespace gemmad::media {

// RGB8, row-major, width * height * 3 bytes (the layout vision::Image takes).
struct DecodedImage {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

enum class ImageFormat { kPng, kJpeg };

// By the file's signature, not by a client-given MIME type; anything else is an error.
Result<ImageFormat> sniff_image(std::span<const uint8_t> bytes);
const char* image_format_name(ImageFormat format);  // "png" | "jpeg"

Result<DecodedImage> decode_png(std::span<const uint8_t> bytes, const MediaLimits& limits);
Result<DecodedImage> decode_jpeg(std::span<const uint8_t> bytes, const MediaLimits& limits);
// Checks max_image_bytes, sniffs the format and decodes.
Result<DecodedImage> decode_image(std::span<const uint8_t> bytes, const MediaLimits& limits);

// "image is 5000x4000 = 20000000 pixels; the limit is 16777216 (media.max_image_pixels)"
Status check_image_pixels(uint64_t width, uint64_t height, const MediaLimits& limits);

}  // namespace gemmad::media
