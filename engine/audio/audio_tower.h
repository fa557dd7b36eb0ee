// The audio tower end to end on bound weights (docs/ENCODERS.md §3): PCM -> 30 s chunks
// -> log-mel features -> subsampling convs -> conformer layers -> output projection ->
// embedder into the text width. 25 tokens per second. AudioEncoder (audio_encoder.h) is the
// public face; this layer needs only an AudioWeights, so tests and tools can drive it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "audio/audio_weights.h"
#include "audio/mel_features.h"
#include "common/result.h"
#include "runtime/tap.h"

namespace gemmad::kernels {
class ThreadPool;
}

namespace gemmad::audio {

// Audio longer than this is encoded in independent chunks of this many samples whose tokens
// are concatenated (llama.cpp's behaviour; HF truncates at 30 s). A trailing chunk too short
// for one frame adds no tokens.
inline constexpr uint32_t kChunkSamples = 30 * kSampleRate;

// Tokens from a time length of T frames: two stride-2 convs, T1 = ceil(T/2), T2 = ceil(T1/2).
uint32_t audio_tokens_for_frames(uint32_t n_frames);
// Tokens `n_samples` of PCM give, over all chunks (1 s -> 25).
uint64_t audio_token_count(uint64_t n_samples);

struct AudioRows {
  uint32_t n_tokens = 0;
  std::vector<float> data;  // [n_tokens][text_d]
};

// Named intermediates (runtime/tap.h), per chunk, rows = time steps; pos = the row's index
// within its chunk, seq = the chunk's index: "mel" [frames][128], "sscp" [T2][hidden] (after
// the input projection), per layer "ffn1", "attn", "conv", "ffn2" (the stream after each
// residual add) and "layer_out" (after ln2), then "out_proj" [T2][out_dim] (with bias) and
// "embd" [T2][d].
using Tap = runtime::TapFn;

// One chunk's features -> its tokens' embeddings (appended to `out`). n_frames >= 1.
Status encode_features(const AudioWeights& w, const MelFeatures& f, kernels::ThreadPool& pool,
                       AudioRows& out, const Tap* tap = nullptr, int32_t chunk = 0);

// The whole pipeline. Errors: a non-finite sample (index and value), or audio shorter than
// one frame (kMinSamples samples).
Result<AudioRows> encode_pcm(const AudioWeights& w, std::span<const float> pcm,
                             kernels::ThreadPool& pool, const Tap* tap = nullptr);

}  // namespace gemmad::audio
