// Log-mel features: semicausal 20 ms frames, periodic Hann, 512-point FFT magnitude, HTK mel
// filterbank without area normalisation, ln(x + 0.001) (docs/ENCODERS.md §3.1).
#include "audio/mel_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <utility>

namespace gemmad::audio {
namespace {

constexpr uint32_t kMelPoints = kMelBins + 2;  // 130 edges of 128 triangles
constexpr double kMaxHz = kSampleRate / 2.0;

double hz_to_mel(double hz) {
  return 2595.0 * std::log10(1.0 + hz / 700.0);
}
double mel_to_hz(double mel) {
  return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
}

std::vector<double> build_filterbank() {
  std::array<double, kMelPoints> edge{};
  const double top = hz_to_mel(kMaxHz);
  for (uint32_t i = 0; i < kMelPoints; ++i)
    edge[i] = mel_to_hz(top * i / (kMelPoints - 1));
  std::vector<double> fb(size_t{kMelBins} * kFftBins, 0.0);
  for (uint32_t m = 0; m < kMelBins; ++m) {
    for (uint32_t k = 0; k < kFftBins; ++k) {
      const double f = k * (static_cast<double>(kSampleRate) / kFftSize);
      const double up = (f - edge[m]) / (edge[m + 1] - edge[m]);
      const double down = (edge[m + 2] - f) / (edge[m + 2] - edge[m + 1]);
      fb[size_t{m} * kFftBins + k] = std::max(0.0, std::min(up, down));
    }
  }
  return fb;
}

// Periodic Hann of length 320: 0.5 - 0.5 cos(2 pi n / 320).
std::array<double, kFrameLength> build_window() {
  std::array<double, kFrameLength> w{};
  for (uint32_t n = 0; n < kFrameLength; ++n)
    w[n] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / kFrameLength);
  return w;
}

// In-place iterative radix-2 FFT of kFftSize points (bit reversal, then butterflies).
class Fft512 {
 public:
  Fft512() {
    for (uint32_t k = 0; k < kFftSize / 2; ++k)
      twiddle_[k] = std::polar(1.0, -2.0 * std::numbers::pi * k / kFftSize);
    uint32_t bits = 0;
    while ((1u << bits) < kFftSize)
      ++bits;
    for (uint32_t i = 0; i < kFftSize; ++i) {
      uint32_t r = 0;
      for (uint32_t b = 0; b < bits; ++b)
        r |= ((i >> b) & 1u) << (bits - 1 - b);
      reverse_[i] = r;
    }
  }

  void run(std::array<std::complex<double>, kFftSize>& a) const {
    for (uint32_t i = 0; i < kFftSize; ++i)
      if (i < reverse_[i]) std::swap(a[i], a[reverse_[i]]);
    for (uint32_t len = 2; len <= kFftSize; len <<= 1) {
      const uint32_t step = kFftSize / len;
      for (uint32_t s = 0; s < kFftSize; s += len) {
        for (uint32_t j = 0; j < len / 2; ++j) {
          const std::complex<double> t = twiddle_[j * step] * a[s + j + len / 2];
          a[s + j + len / 2] = a[s + j] - t;
          a[s + j] += t;
        }
      }
    }
  }

 private:
  std::array<std::complex<double>, kFftSize / 2> twiddle_{};
  std::array<uint32_t, kFftSize> reverse_{};
};

}  // namespace

const std::vector<double>& mel_filterbank() {
  static const std::vector<double> fb = build_filterbank();
  return fb;
}

uint32_t mel_frame_count(uint64_t n_samples) {
  if (n_samples < kMinSamples) return 0;
  return static_cast<uint32_t>((n_samples - kMinSamples) / kHopLength + 1);
}

Status check_pcm(std::span<const float> pcm) {
  for (size_t i = 0; i < pcm.size(); ++i) {
    if (!std::isfinite(pcm[i])) {
      return make_error(ErrorCode::kInvalidArgument,
                        "audio: sample " + std::to_string(i) + " is " + std::to_string(pcm[i]) +
                            "; samples must be finite (float PCM in [-1, 1])");
    }
  }
  return {};
}

Result<MelFeatures> log_mel_features(std::span<const float> pcm) {
  GEMMAD_TRY(check_pcm(pcm));
  static const Fft512 fft;
  static const std::array<double, kFrameLength> window = build_window();
  const std::vector<double>& fb = mel_filterbank();
  // Each triangle is non-zero on a few bins only: [first, second) of filter m.
  static const std::array<std::pair<uint32_t, uint32_t>, kMelBins> support = [&fb] {
    std::array<std::pair<uint32_t, uint32_t>, kMelBins> s{};
    for (uint32_t m = 0; m < kMelBins; ++m) {
      uint32_t b = kFftBins, e = 0;
      for (uint32_t k = 0; k < kFftBins; ++k) {
        if (fb[size_t{m} * kFftBins + k] != 0.0) {
          b = std::min(b, k);
          e = k + 1;
        }
      }
      s[m] = b < e ? std::make_pair(b, e) : std::make_pair(0u, 0u);
    }
    return s;
  }();

  MelFeatures out;
  out.n_frames = mel_frame_count(pcm.size());
  out.data.resize(size_t{out.n_frames} * kMelBins);
  std::array<std::complex<double>, kFftSize> buf;
  std::array<double, kFftBins> mag{};
  for (uint32_t i = 0; i < out.n_frames; ++i) {
    // Frame i covers padded samples [160 i, 160 i + 320), i.e. pcm[160 i - 160, 160 i + 160).
    const int64_t start = int64_t{i} * kHopLength - kHopLength;
    for (uint32_t n = 0; n < kFftSize; ++n) {
      const int64_t s = start + n;
      const double v = (n < kFrameLength && s >= 0) ? pcm[static_cast<size_t>(s)] * window[n] : 0.0;
      buf[n] = {v, 0.0};
    }
    fft.run(buf);
    for (uint32_t k = 0; k < kFftBins; ++k)
      mag[k] = std::abs(buf[k]);
    float* row = out.data.data() + size_t{i} * kMelBins;
    for (uint32_t m = 0; m < kMelBins; ++m) {
      const double* w = fb.data() + size_t{m} * kFftBins;
      double acc = 0.0;
      for (uint32_t k = support[m].first; k < support[m].second; ++k)
        acc += w[k] * mag[k];
      row[m] = static_cast<float>(std::log(acc + kLogFloor));
    }
  }
  return out;
}

}  // namespace gemmad::audio
