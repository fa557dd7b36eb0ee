// The audio front end: 16 kHz mono PCM -> 128-bin log-mel features, 100 frames per second
// (docs/ENCODERS.md §3.1). Plain loops, double precision inside (cheap: ~3 M MAC
// per second of audio); no CPU-specific code.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace gemmad::audio {

inline constexpr uint32_t kSampleRate = 16000;
inline constexpr uint32_t kMelBins = 128;
inline constexpr uint32_t kFrameLength = 320;  // 20 ms
inline constexpr uint32_t kHopLength = 160;    // 10 ms; also the zeros prepended
inline constexpr uint32_t kFftSize = 512;
inline constexpr uint32_t kFftBins = kFftSize / 2 + 1;  // 257, 31.25 Hz apart
inline constexpr float kLogFloor = 0.001f;              // feat = ln(mel + floor)
// Fewest samples that make one frame (the framing drops the 321st sample of each window).
inline constexpr uint32_t kMinSamples = kFrameLength + 1 - kHopLength;  // 161

// [n_frames][kMelBins] row-major.
struct MelFeatures {
  uint32_t n_frames = 0;
  std::vector<float> data;
};

// Frames produced from n samples: floor((n + 160 - 321) / 160) + 1, 0 below kMinSamples.
uint32_t mel_frame_count(uint64_t n_samples);

// Every sample finite; otherwise an error naming the first bad index and its value.
Status check_pcm(std::span<const float> pcm);

// Log-mel features of `pcm` (checked by check_pcm; finite samples outside [-1, 1] are used
// as they are). Zero frames (fewer than kMinSamples samples) is not an error here: the result
// is empty.
Result<MelFeatures> log_mel_features(std::span<const float> pcm);

// The filterbank, [kMelBins][kFftBins] row-major (tests and docs).
const std::vector<double>& mel_filterbank();

}  // namespace gemmad::audio
