// Format sniffing and the shared limit checks for request images; the per-format decoders
// are png_decoder.cpp and jpeg_decoder.cpp.
#include "daemon/media/image_decoder.h"

#include <algorithm>
#include <array>

namespace gemmad::media {

Result<ImageFormat> sniff_image(std::span<const uint8_t> bytes) {
  static constexpr std::array<uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= kPng.size() && std::equal(kPng.begin(), kPng.end(), bytes.begin())) {
    return ImageFormat::kPng;
  }
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) {
    return ImageFormat::kJpeg;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "image: not a PNG or JPEG file (the first bytes are neither signature; " +
                        std::to_string(bytes.size()) + " bytes given)");
}

const char* image_format_name(ImageFormat format) {
  return format == ImageFormat::kPng ? "png" : "jpeg";
}

Status check_image_pixels(uint64_t width, uint64_t height, const MediaLimits& limits) {
  if (width == 0 || height == 0) {
    return make_error(ErrorCode::kInvalidArgument, "image: size " + std::to_string(width) + "x" +
                                                       std::to_string(height) + " is empty");
  }
  const uint64_t pixels = width * height;
  if (pixels > limits.max_image_pixels) {
    return make_error(ErrorCode::kOutOfRange,
                      "image: " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                          std::to_string(pixels) + " pixels; the limit is " +
                          std::to_string(limits.max_image_pixels) + " (media.max_image_pixels)");
  }
  return {};
}

Result<DecodedImage> decode_image(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  GEMMAD_TRY(
      check_byte_limit(bytes.size(), limits.max_image_bytes, "image", "media.max_image_bytes"));
  GEMMAD_ASSIGN_OR_RETURN(ImageFormat format, sniff_image(bytes));
  return format == ImageFormat::kPng ? decode_png(bytes, limits) : decode_jpeg(bytes, limits);
}

}  // namespace gemmad::media
