// Limits on the media a request may carry, checked from a file's header before any pixel or
// sample buffer is allocated (config keys media.*, docs/ARCHITECTURE.md "Media").
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace gemmad::media {

struct MediaLimits {
  uint32_t max_image_bytes = 8u << 20;    // media.max_image_bytes: encoded PNG/JPEG size
  uint32_t max_image_pixels = 16u << 20;  // media.max_image_pixels: width * height
  uint32_t max_audio_bytes = 8u << 20;    // media.max_audio_bytes: encoded WAV size
  uint32_t max_audio_seconds = 30;        // media.max_audio_seconds: the audio encoder's cap
  uint32_t max_media_per_request = 8;     // media.max_media_per_request: parts in one turn
};

// "image: 9000000 bytes; the limit is 8388608 (media.max_image_bytes)"
inline Status check_byte_limit(uint64_t size, uint32_t limit, const char* what, const char* key) {
  if (size <= limit) return {};
  return make_error(ErrorCode::kOutOfRange, std::string(what) + ": " + std::to_string(size) +
                                                " bytes; the limit is " + std::to_string(limit) +
                                                " (" + key + ")");
}

}  // namespace gemmad::media
