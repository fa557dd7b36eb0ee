// Resampling mono float audio to the audio encoder's 16 kHz through libsoxr (its
// high-quality preset), so any WAV rate a client sends reaches the encoder at one rate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "daemon/media/media_limits.h"

namespace gemmad::media {

inline constexpr uint32_t kEncoderSampleRate = 16000;  // audio::kSampleRate

Result<std::vector<float>> resample(std::span<const float> in, uint32_t from_rate,
                                    uint32_t to_rate);

// WAV bytes -> mono 16 kHz floats in [-1, 1], limits checked before allocating.
Result<std::vector<float>> decode_audio_16k(std::span<const uint8_t> wav,
                                            const MediaLimits& limits);

}  // namespace gemmad::media
