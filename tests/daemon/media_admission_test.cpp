// Media admission: part count, offsets, budgets, MIME against the bytes, real decoding under
// the limits, and a model without an mmproj refused naming the config key. Files are the
// fuzz seeds (tests/fuzz/seeds/), decoded by the real decoders.
#include "daemon/media_admission.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

namespace gemmad::daemon {
namespace {

std::vector<uint8_t> seed(const std::string& name) {
  std::ifstream in(std::string(GEMMAD_SOURCE_DIR) + "/tests/fuzz/seeds/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

MediaInput image(uint32_t offset = 0, uint32_t budget = 0, std::string mime = "") {
  return {.kind = MediaInput::Kind::kImage,
          .mime = std::move(mime),
          .data = seed("png/rgb8.png"),
          .text_offset = offset,
          .token_budget = budget};
}

// Without encoders (no mmproj): every check on the parts runs first, then the model's.
std::string error_of(const std::vector<MediaInput>& media, const media::MediaLimits& limits = {}) {
  auto st = admit_media(media, 10, limits, "e2b", nullptr);
  return st.ok() ? "ok" : st.error().message;
}

TEST(MediaAdmission, ChecksCountOffsetsBudgetsAndMime) {
  media::MediaLimits one;
  one.max_media_per_request = 1;
  EXPECT_EQ(error_of({image(), image()}, one),
            "2 media parts; the limit is 1 (media.max_media_per_request)");
  EXPECT_NE(error_of({image(11)}).find("media[0].text_offset 11 is past the text"),
            std::string::npos);
  EXPECT_NE(error_of({image(5), image(4)}).find("media[1].text_offset 4"), std::string::npos);
  EXPECT_NE(error_of({image(0, 69)}).find("media[0].image_token_budget 69 outside [70, 1120]"),
            std::string::npos);
  EXPECT_NE(error_of({image(0, 0, "image/jpeg")}).find("but the bytes are image/png"),
            std::string::npos);
}

TEST(MediaAdmission, DecodesEachFileUnderTheLimits) {
  media::MediaLimits small;
  small.max_image_pixels = 11;  // the seed is 4x3
  EXPECT_NE(error_of({image()}, small).find("media[0]: image: 4x3 = 12 pixels"), std::string::npos);
  MediaInput bad_wav{.kind = MediaInput::Kind::kAudio, .data = seed("png/rgb8.png")};
  EXPECT_NE(error_of({bad_wav}).find("media[0]: audio: bad WAV: not a RIFF/WAVE file"),
            std::string::npos);
}

TEST(MediaAdmission, ValidMediaForAModelWithoutMmprojNameTheKey) {
  MediaInput wav{.kind = MediaInput::Kind::kAudio, .data = seed("wav/stereo16_44k.wav")};
  EXPECT_NE(error_of({image(), wav}, {}).find("model 'e2b' has no mmproj"), std::string::npos);
  EXPECT_TRUE(admit_media({}, 0, {}, "e2b", nullptr).ok());  // text requests are untouched
}

}  // namespace
}  // namespace gemmad::daemon
