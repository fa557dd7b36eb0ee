// AudioEncoder: the mmproj-facing wrapper over AudioWeights and the tower (audio_tower.h).
#include "audio/audio_encoder.h"

#include <string_view>

#include "audio/audio_tower.h"

namespace gemmad::audio {

Result<std::unique_ptr<AudioEncoder>> AudioEncoder::bind(const mmproj::MmprojFile& file,
                                                         const engine::Gemma4Config& text) {
  if (!file.has_audio()) {
    return make_error(ErrorCode::kInvalidArgument,
                      file.gguf().path() +
                          ": this mmproj has no audio encoder (clip.has_audio_encoder is not "
                          "true)");
  }
  auto w = AudioWeights::bind(file.gguf(), text.n_embd);
  if (!w.ok()) return std::move(w).error().with_context(file.gguf().path());
  std::unique_ptr<AudioEncoder> e(new AudioEncoder());
  e->weights_ = std::move(*w);
  constexpr std::string_view kPrefixes[] = {"a.", "mm.a."};
  e->ranges_ = file.tensor_ranges(kPrefixes);
  return e;
}

Result<mmproj::Embeddings> AudioEncoder::encode(std::span<const float> pcm,
                                                kernels::ThreadPool& pool) const {
  GEMMAD_ASSIGN_OR_RETURN(AudioRows rows, encode_pcm(weights_, pcm, pool));
  mmproj::Embeddings e;
  e.n_tokens = rows.n_tokens;
  e.dim = weights_.hp.text_d;
  e.data = std::move(rows.data);
  return e;
}

}  // namespace gemmad::audio
