// Media admission (see media_admission.h): cheap checks first, then the real decoders.
#include "daemon/media_admission.h"

#include "daemon/media/image_decoder.h"
#include "daemon/media/resample.h"

namespace gemmad::daemon {
namespace {

Error invalid(const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, what);
}

constexpr uint32_t kMinBudget = 70, kMaxBudget = 1120;  // vision token budgets

// The decoded part without its soft-token count (a clip too short for one token is a
// problem of the model's input, reported after the model's own checks).
Result<MediaPart> decode_only(const MediaInput& m, const std::string& at,
                              const media::MediaLimits& limits) {
  MediaPart part;
  if (m.kind == MediaInput::Kind::kImage) {
    if (m.token_budget != 0 && (m.token_budget < kMinBudget || m.token_budget > kMaxBudget)) {
      return invalid(at + ".image_token_budget " + std::to_string(m.token_budget) +
                     " outside [70, 1120] (0 = the default 280)");
    }
    auto image = media::decode_image(m.data, limits);
    if (!image.ok()) return std::move(image).error().with_context(at);
    const media::ImageFormat format = *media::sniff_image(m.data);
    const std::string want = std::string("image/") + media::image_format_name(format);
    if (!m.mime.empty() && m.mime != want) {
      return invalid(at + ".mime_type '" + m.mime.substr(0, 40) + "' but the bytes are " + want);
    }
    part.modality = Modality::kVision;
    part.image = vision::Image{image->width, image->height, std::move(image->rgb)};
    part.token_budget = m.token_budget;
  } else {
    if (!m.mime.empty() && m.mime != "audio/wav" && m.mime != "audio/x-wav") {
      return invalid(at + ".mime_type '" + m.mime.substr(0, 40) + "': audio must be audio/wav");
    }
    auto pcm = media::decode_audio_16k(m.data, limits);
    if (!pcm.ok()) return std::move(pcm).error().with_context(at);
    part.modality = Modality::kAudio;
    part.pcm = std::move(pcm).value();
  }
  return part;
}

Status count_tokens(MediaPart& part, const std::string& at) {
  auto n = soft_tokens(part);
  if (!n.ok()) return std::move(n).error().with_context(at);
  part.n_tokens = *n;
  return {};
}

}  // namespace

Result<MediaPart> decode_part(const MediaInput& m, const std::string& at,
                              const media::MediaLimits& limits) {
  GEMMAD_ASSIGN_OR_RETURN(MediaPart part, decode_only(m, at, limits));
  GEMMAD_TRY(count_tokens(part, at));
  return part;
}

Result<std::vector<MediaPart>> admit_media(std::span<const MediaInput> media, size_t text_bytes,
                                           const media::MediaLimits& limits,
                                           const std::string& model,
                                           const MediaEncoders* encoders) {
  std::vector<MediaPart> parts;
  if (media.empty()) return parts;
  if (media.size() > limits.max_media_per_request) {
    return make_error(ErrorCode::kOutOfRange, std::to_string(media.size()) +
                                                  " media parts; the limit is " +
                                                  std::to_string(limits.max_media_per_request) +
                                                  " (media.max_media_per_request)");
  }
  uint32_t last_offset = 0;
  for (size_t i = 0; i < media.size(); ++i) {
    const std::string at = "media[" + std::to_string(i) + "]";
    const MediaInput& m = media[i];
    if (m.text_offset > text_bytes || m.text_offset < last_offset) {
      return invalid(at + ".text_offset " + std::to_string(m.text_offset) + " is past the text (" +
                     std::to_string(text_bytes) + " bytes) or before the previous part's (" +
                     std::to_string(last_offset) + ")");
    }
    last_offset = m.text_offset;
    GEMMAD_ASSIGN_OR_RETURN(MediaPart part, decode_only(m, at, limits));
    parts.push_back(std::move(part));
  }
  if (encoders == nullptr) {
    return invalid("model '" + model +
                   "' has no mmproj (vision/audio encoders): set mmproj in its [[models]] "
                   "table, model.mmproj, or --mmproj FILE after its --model");
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!encoders->has(parts[i].modality)) {
      return make_error(ErrorCode::kUnsupported, "media[" + std::to_string(i) + "]: model '" +
                                                     model + "': mmproj '" + encoders->path() +
                                                     "' has no " +
                                                     modality_name(parts[i].modality) + " encoder");
    }
    GEMMAD_TRY(count_tokens(parts[i], "media[" + std::to_string(i) + "]"));
  }
  return parts;
}

}  // namespace gemmad::daemon
