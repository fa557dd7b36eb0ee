// A WAV (RIFF/WAVE) reader of our own: PCM 8/16/24/32-bit integer and 32-bit float,
// WAVE_FORMAT_EXTENSIBLE included, one or two channels averaged to mono floats in [-1, 1].
// The byte and duration limits are checked from the fmt and data chunk headers before the
// sample buffer is allocated.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "daemon/media/media_limits.h"

namespace gemmad::media {

struct WavFormat {
  uint16_t format = 0;  // 1 = integer PCM, 3 = IEEE float (after resolving EXTENSIBLE)
  uint16_t channels = 0;
  uint32_t sample_rate = 0;
  uint16_t bits = 0;
  uint64_t frames = 0;  // samples per channel in the data chunk
};

struct DecodedAudio {
  uint32_t sample_rate = 0;
  std::vector<float> mono;  // [frames]
};

// Header only: validates RIFF/WAVE, fmt and data, and the limits.
Result<WavFormat> read_wav_format(std::span<const uint8_t> bytes, const MediaLimits& limits);
// The samples at the file's own rate, averaged to mono.
Result<DecodedAudio> decode_wav(std::span<const uint8_t> bytes, const MediaLimits& limits);

}  // namespace gemmad::media
