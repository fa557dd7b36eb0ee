// Test helpers for the audio encoder: test signals and a tiny synthetic audio-only mmproj.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>

#include "audio/synth_audio.h"
#include "common/result.h"

namespace gemmad::audio::testing {

// A 440 Hz tone at amplitude 0.5.
inline std::vector<float> tone(size_t n, double hz = 440.0, double amp = 0.5) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amp * std::sin(2.0 * std::numbers::pi * hz * i / 16000.0));
  return x;
}

// A linear chirp from 100 Hz to 7 kHz over n samples, amplitude 0.8.
inline std::vector<float> chirp(size_t n) {
  std::vector<float> x(n);
  const double dur = n / 16000.0;
  for (size_t i = 0; i < n; ++i) {
    const double t = i / 16000.0;
    const double phase = 2.0 * std::numbers::pi * (100.0 * t + 0.5 * (6900.0 / dur) * t * t);
    x[i] = static_cast<float>(0.8 * std::sin(phase));
  }
  return x;
}

// An mmproj holding only the audio tower of `preset`.
inline Status write_audio_mmproj(const std::string& path, const std::string& preset,
                                 uint32_t text_d, quant::GgmlType type, uint64_t seed = 1) {
  return write_synth_audio_mmproj(path, *synth_audio_shape(preset), text_d, type, seed);
}

}  // namespace gemmad::audio::testing
