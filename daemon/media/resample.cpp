// libsoxr one-shot resampling (whole clip at once: clips are at most
// media.max_audio_seconds long, so streaming would buy nothing).
#include "daemon/media/resample.h"

#include <soxr.h>

#include <algorithm>
#include <string>

#include "daemon/media/wav_reader.h"

namespace gemmad::media {

Result<std::vector<float>> resample(std::span<const float> in, uint32_t from_rate,
                                    uint32_t to_rate) {
  if (from_rate == 0 || to_rate == 0) {
    return make_error(ErrorCode::kInvalidArgument, "resample: rate " + std::to_string(from_rate) +
                                                       " -> " + std::to_string(to_rate) + " Hz");
  }
  if (from_rate == to_rate) return std::vector<float>(in.begin(), in.end());
  const size_t out_len =
      static_cast<size_t>((static_cast<uint64_t>(in.size()) * to_rate + from_rate - 1) / from_rate);
  std::vector<float> out(out_len);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, in.data(), in.size(), nullptr,
                                        out.data(), out.size(), &done, &io, &quality, nullptr);
  if (err != nullptr) {
    return make_error(ErrorCode::kInternal, std::string("resample (libsoxr): ") + err);
  }
  out.resize(done);
  for (float& v : out)
    v = std::clamp(v, -1.0f, 1.0f);  // the filter can overshoot a full-scale input
  return out;
}

Result<std::vector<float>> decode_audio_16k(std::span<const uint8_t> wav,
                                            const MediaLimits& limits) {
  GEMMAD_ASSIGN_OR_RETURN(DecodedAudio audio, decode_wav(wav, limits));
  return resample(audio.mono, audio.sample_rate, kEncoderSampleRate);
}

}  // namespace gemmad::media
