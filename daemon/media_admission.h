// Admission of a request's media (issue 11): the part count, then each file decoded under
// the media.* limits, so a bad or oversized file is refused before the turn is queued, with
// an error naming the part, what is wrong and the limit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/media/media_limits.h"
#include "daemon/media_encoders.h"
#include "daemon/media_prompt.h"

namespace gemmad::daemon {

// One image or audio part of a user message, as a front end received it.
struct MediaInput {
  enum class Kind { kImage, kAudio };
  Kind kind = Kind::kImage;
  std::string mime;           // "" = by signature; else must agree with it
  std::vector<uint8_t> data;  // the encoded file
  uint32_t text_offset = 0;   // byte offset in the user text (at most its size)
  uint32_t token_budget = 0;  // images: 70..1120, 0 = default (280)
};

// Decodes one part under `limits` (checking its budget and MIME type) into what the encoder
// takes, with its soft-token count; errors are prefixed with `at` ("media[1]").
Result<MediaPart> decode_part(const MediaInput& m, const std::string& at,
                              const media::MediaLimits& limits);

// Checks count, offsets (within `text_bytes`, non-decreasing), budgets, MIME against the
// bytes, and decodes each part under `limits`; then that `model` has `encoders` (null = no
// mmproj, refused naming the config key) with the tower each part needs. Returns the decoded
// parts with their soft-token counts, in order.
Result<std::vector<MediaPart>> admit_media(std::span<const MediaInput> media, size_t text_bytes,
                                           const media::MediaLimits& limits,
                                           const std::string& model, const MediaEncoders* encoders);

}  // namespace gemmad::daemon
