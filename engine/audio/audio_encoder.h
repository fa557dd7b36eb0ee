// The issue-11 audio encoder API (docs/ENCODERS.md §3): binds the a.* / mm.a.* tensors of
// an mmproj file to a text model and turns 16 kHz mono PCM into soft-token embeddings in the
// text width, 25 per second. Binding reads no tensor data, so the tower's pages are touched
// only by the first encode; byte_ranges() lets the daemon drop them again when idle.
//
// Lifetime: the encoder points into `file`'s mapping; the MmprojFile must outlive it.
// Thread safety: immutable after bind; encode() may run concurrently with different pools.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "audio/audio_weights.h"
#include "audio/mel_features.h"
#include "common/result.h"
#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"

namespace gemmad::kernels {
class ThreadPool;
}

namespace gemmad::audio {

class AudioEncoder {
 public:
  // Errors: the file has no audio tower, or a key / tensor is missing, misshapen, of an
  // unsupported type, or its width differs from the text model's (each named).
  static Result<std::unique_ptr<AudioEncoder>> bind(const mmproj::MmprojFile& file,
                                                    const engine::Gemma4Config& text);

  // Mono float PCM in [-1, 1] at 16 kHz; audio over 30 s is encoded in 30 s chunks whose
  // tokens are concatenated. Errors: a non-finite sample (index, value), fewer than 161
  // samples (one frame). Result dim == the text width.
  Result<mmproj::Embeddings> encode(std::span<const float> pcm, kernels::ThreadPool& pool) const;

  // The file ranges of every a.* and mm.a.* tensor (sorted, merged, page-aligned).
  std::vector<mmproj::ByteRange> byte_ranges() const { return ranges_; }
  uint64_t weight_bytes() const { return weights_.weight_bytes; }
  const AudioHparams& hparams() const { return weights_.hp; }

 private:
  AudioEncoder() = default;

  AudioWeights weights_;
  std::vector<mmproj::ByteRange> ranges_;
};

}  // namespace gemmad::audio
