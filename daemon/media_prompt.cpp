// Placement of media soft tokens in a prompt; see media_prompt.h.
#include "daemon/media_prompt.h"

#include <algorithm>
#include <string>

#include "audio/audio_tower.h"
#include "vision/image_resize.h"

namespace gemmad::daemon {

Result<MediaTokenIds> MediaTokenIds::of(const tokenizer::Tokenizer& tok) {
  MediaTokenIds m;
  const std::pair<const char*, int32_t*> want[] = {
      {"<|image>", &m.image_begin}, {"<|image|>", &m.image_soft}, {"<image|>", &m.image_end},
      {"<|audio>", &m.audio_begin}, {"<|audio|>", &m.audio_soft}, {"<audio|>", &m.audio_end}};
  for (const auto& [text, id] : want) {
    *id = tok.find_token(text);
    if (*id < 0) {
      return make_error(ErrorCode::kBadModelFile,
                        std::string("the vocabulary has no '") + text +
                            "' token, so this model cannot take images or audio");
    }
  }
  return m;
}

Result<uint32_t> soft_tokens(const MediaPart& part) {
  if (part.modality == Modality::kVision) {
    const uint32_t budget =
        part.token_budget == 0 ? vision::kDefaultTokenBudget : part.token_budget;
    GEMMAD_ASSIGN_OR_RETURN(vision::TargetSize size,
                            vision::target_size(part.image.width, part.image.height, budget));
    return size.n_tokens();
  }
  const uint64_t n = audio::audio_token_count(part.pcm.size());
  if (n == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "audio of " + std::to_string(part.pcm.size()) +
                          " samples at 16 kHz is shorter than one 10 ms feature frame");
  }
  return static_cast<uint32_t>(n);
}

Result<std::shared_ptr<MediaPrompt>> MediaPrompt::place(std::span<const int32_t> text_ids,
                                                        std::span<const size_t> media_at,
                                                        std::vector<MediaPart> parts,
                                                        const MediaTokenIds& ids,
                                                        std::shared_ptr<MediaEncoders> encoders) {
  if (media_at.size() != parts.size()) {
    return make_error(ErrorCode::kInternal, std::to_string(parts.size()) + " media parts but " +
                                                std::to_string(media_at.size()) +
                                                " places in the prompt");
  }
  std::shared_ptr<MediaPrompt> p(new MediaPrompt());
  p->encoders_ = std::move(encoders);
  size_t from = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const size_t at = media_at[k];
    if (at < from || at > text_ids.size()) {
      return make_error(ErrorCode::kInternal,
                        "media place " + std::to_string(at) + " out of order or past the prompt");
    }
    p->ids_.insert(p->ids_.end(), text_ids.begin() + static_cast<std::ptrdiff_t>(from),
                   text_ids.begin() + static_cast<std::ptrdiff_t>(at));
    from = at;
    const bool image = parts[k].modality == Modality::kVision;
    p->ids_.push_back(image ? ids.image_begin : ids.audio_begin);
    Placed placed;
    placed.first_row = p->ids_.size();
    p->ids_.insert(p->ids_.end(), parts[k].n_tokens, image ? ids.image_soft : ids.audio_soft);
    p->ids_.push_back(image ? ids.image_end : ids.audio_end);
    placed.part = std::move(parts[k]);
    p->parts_.push_back(std::move(placed));
  }
  p->ids_.insert(p->ids_.end(), text_ids.begin() + static_cast<std::ptrdiff_t>(from),
                 text_ids.end());
  return p;
}

size_t MediaPrompt::ready_rows() const {
  return encoded_ < parts_.size() ? parts_[encoded_].first_row : ids_.size();
}

Status MediaPrompt::encode_next(kernels::ThreadPool& pool) {
  if (encoded_ >= parts_.size()) return {};
  Placed& p = parts_[encoded_];
  const std::string at = "media[" + std::to_string(encoded_) + "]";
  if (!encoders_) return make_error(ErrorCode::kInternal, at + ": no encoders");
  Result<mmproj::Embeddings> out =
      p.part.modality == Modality::kVision
          ? encoders_->encode_image(
                p.part.image,
                p.part.token_budget == 0 ? vision::kDefaultTokenBudget : p.part.token_budget, pool)
          : encoders_->encode_audio(p.part.pcm, pool);
  if (!out.ok()) return std::move(out).error().with_context(at);
  if (out->n_tokens != p.part.n_tokens) {
    return make_error(ErrorCode::kInternal,
                      at + ": the encoder gave " + std::to_string(out->n_tokens) +
                          " soft tokens where " + std::to_string(p.part.n_tokens) + " were placed");
  }
  p.out = std::move(out).value();
  // The decoded input is no longer needed once encoded.
  p.part.image.rgb = {};
  p.part.pcm = {};
  ++encoded_;
  return {};
}

const float* MediaPrompt::embedding(size_t row) const {
  // Parts are in row order: the last whose first row is at or before `row`.
  auto it = std::upper_bound(parts_.begin(), parts_.end(), row,
                             [](size_t r, const Placed& p) { return r < p.first_row; });
  if (it == parts_.begin()) return nullptr;
  const Placed& p = *std::prev(it);
  if (row >= p.first_row + p.part.n_tokens) return nullptr;
  const size_t k = static_cast<size_t>(std::prev(it) - parts_.begin());
  if (k >= encoded_) return nullptr;
  return p.out.data.data() + (row - p.first_row) * p.out.dim;
}

}  // namespace gemmad::daemon
