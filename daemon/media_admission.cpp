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

Status admit_one(const MediaInput& m, const std::string& at, const media::MediaLimits& limits) {
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
    return {};
  }
  if (!m.mime.empty() && m.mime != "audio/wav" && m.mime != "audio/x-wav") {
    return invalid(at + ".mime_type '" + m.mime.substr(0, 40) + "': audio must be audio/wav");
  }
  auto pcm = media::decode_audio_16k(m.data, limits);
  if (!pcm.ok()) return std::move(pcm).error().with_context(at);
  return {};
}

}  // namespace

Status admit_media(std::span<const MediaInput> media, size_t text_bytes,
                   const media::MediaLimits& limits, const std::string& model,
                   const std::string& mmproj) {
  if (media.empty()) return {};
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
    GEMMAD_TRY(admit_one(m, at, limits));
  }
  if (mmproj.empty()) {
    return invalid("model '" + model +
                   "' has no mmproj (vision/audio encoders): set mmproj in its [[models]] "
                   "table, model.mmproj, or --mmproj FILE after its --model");
  }
  // The encoders (engine/vision, engine/audio) are not yet wired into the scheduler on this
  // branch: refuse rather than answer as if the media were not there.
  return make_error(ErrorCode::kUnsupported,
                    "model '" + model + "': running the image/audio encoders of '" + mmproj +
                        "' is not in this daemon build yet; the media were decoded and are valid");
}

}  // namespace gemmad::daemon
