// libFuzzer target for the audio encoder's inputs (engine/audio): the first byte picks
//   even: the rest as little-endian f32 PCM of any length and any values (NaN, inf, huge)
//         through log_mel_features; a success must give finite features of the promised count;
//   odd:  the rest as a GGUF file through AudioWeights::bind (text width from its own
//         clip.audio.projection_dim key, so the table checks run), then every bound norm
//         pointer's first element is read.
// Seeds: tests/fuzz/seeds/audio.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "audio/audio_weights.h"
#include "audio/mel_features.h"
#include "gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gemmad;
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    std::vector<float> pcm(rest.size() / sizeof(float));
    if (!pcm.empty()) std::memcpy(pcm.data(), rest.data(), pcm.size() * sizeof(float));
    auto f = audio::log_mel_features(pcm);
    if (!f.ok()) return 0;
    if (f->n_frames != audio::mel_frame_count(pcm.size())) std::abort();
    if (f->data.size() != size_t{f->n_frames} * audio::kMelBins) std::abort();
    // The FFT and mel sums run in double, so even +-FLT_MAX samples give finite features.
    for (float v : f->data)
      if (!std::isfinite(v)) std::abort();
    return 0;
  }
  auto file = gguf::GgufFile::parse(rest, "fuzz.gguf");
  if (!file.ok()) return 0;
  auto d = (*file)->get_uint("clip.audio.projection_dim");
  if (!d.ok() || *d > 65536) return 0;
  auto w = audio::AudioWeights::bind(**file, static_cast<uint32_t>(*d));
  if (!w.ok()) return 0;
  volatile float sink = 0.0f;
  for (const audio::AudioLayerWeights& l : w->layers)
    sink = sink + l.ffn_norm[0] + l.ln2[0] + l.conv_dw[0] + l.per_dim_scale[0];
  sink = sink + w->conv0[0] + w->out_bias[0];
  return 0;
}
