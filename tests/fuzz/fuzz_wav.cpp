// libFuzzer target for request audio: arbitrary bytes through the WAV reader and the 16 kHz
// resampler (media::decode_audio_16k), as a request's audio part reaches the daemon. A rejected
// file must say why; an accepted one must give finite samples in [-1, 1], about as many as the
// header's duration at 16 kHz.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "daemon/media/resample.h"
#include "daemon/media/wav_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gemmad::media::MediaLimits limits;
  limits.max_audio_seconds = 4;
  auto format = gemmad::media::read_wav_format({data, size}, limits);
  auto pcm = gemmad::media::decode_audio_16k({data, size}, limits);
  if (!pcm.ok()) {
    if (pcm.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (!format.ok()) __builtin_trap();  // the header read alone must agree
  const double expected = static_cast<double>(format->frames) * 16000.0 / format->sample_rate;
  if (std::abs(static_cast<double>(pcm->size()) - expected) > expected * 0.01 + 64)
    __builtin_trap();
  for (float v : *pcm)
    if (!(v >= -1.0f && v <= 1.0f)) __builtin_trap();
  return 0;
}
