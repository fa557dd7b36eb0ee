// A prompt holding images and audio (issue 11; docs/ENCODERS.md "In the daemon"): the chat
// template's ids with, at each media part's place, its begin token, one row per soft token
// and its end token:
//   <|image> + N x <|image|> + <image|>      <|audio> + M x <|audio|> + <audio|>
// The soft-token rows keep the placeholder id (what validation and the KV bookkeeping see)
// and carry the encoder's d-vector, fed through Batch::add_embedding. N and M are known
// before encoding (from the image size and budget, the clip's length), so the prompt's length
// is checked against the context at admission; the embeddings are computed later, part by
// part, on the inference thread (encode_next).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "daemon/media_encoders.h"
#include "kernels/thread_pool.h"
#include "mmproj/mmproj_file.h"
#include "tokenizer/tokenizer.h"
#include "vision/vision_encoder.h"

namespace gemmad::daemon {

// The ids of the media tokens (docs/ENCODERS.md §2.6): looked up in the model's vocabulary;
// kBadModelFile naming the first one it lacks.
struct MediaTokenIds {
  int32_t image_begin = -1, image_soft = -1, image_end = -1;
  int32_t audio_begin = -1, audio_soft = -1, audio_end = -1;
  static Result<MediaTokenIds> of(const tokenizer::Tokenizer& tok);
};

// One decoded part of a user message.
struct MediaPart {
  Modality modality = Modality::kVision;
  vision::Image image;        // kVision: RGB8
  uint32_t token_budget = 0;  // kVision: 70..1120, 0 = 280
  std::vector<float> pcm;     // kAudio: mono 16 kHz in [-1, 1]
  uint32_t n_tokens = 0;      // soft tokens it becomes (soft_tokens())
};
// The soft tokens a part becomes: the vision grid of its resized size, 25 per second of audio.
// Errors name the problem (an image too small for any grid, a clip under one frame).
Result<uint32_t> soft_tokens(const MediaPart& part);

class MediaPrompt {
 public:
  // `text_ids` with `parts[k]` placed before index media_at[k] (non-decreasing, at most
  // text_ids.size(); ChatFormat::render_media_ids gives both). n_tokens must be set.
  static Result<std::shared_ptr<MediaPrompt>> place(std::span<const int32_t> text_ids,
                                                    std::span<const size_t> media_at,
                                                    std::vector<MediaPart> parts,
                                                    const MediaTokenIds& ids,
                                                    std::shared_ptr<MediaEncoders> encoders);

  const std::vector<int32_t>& ids() const { return ids_; }
  size_t n_parts() const { return parts_.size(); }
  // Index of the first soft-token row of part k.
  size_t first_row(size_t k) const { return parts_[k].first_row; }
  // Rows [0, ready_rows()) can be fed: every part before it is encoded.
  size_t ready_rows() const;
  // Encodes the next part not yet encoded (kInvalidArgument naming media[k] on failure, or
  // when the encoder's token count differs from the one placed).
  Status encode_next(kernels::ThreadPool& pool);
  // The input embedding of prompt row `row`; nullptr for a text row. Valid below ready_rows().
  const float* embedding(size_t row) const;

 private:
  struct Placed {
    MediaPart part;
    size_t first_row = 0;
    mmproj::Embeddings out;  // once encoded
  };
  MediaPrompt() = default;

  std::vector<int32_t> ids_;
  std::vector<Placed> parts_;
  size_t encoded_ = 0;  // parts [0, encoded_) have their embeddings
  std::shared_ptr<MediaEncoders> encoders_;
};

}  // namespace gemmad::daemon
