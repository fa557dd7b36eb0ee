// Media placement (daemon/media_prompt.h) against hand-worked sequences: begin token, one
// placeholder row per soft token, end token, at each part's place; the soft-token counts of
// images and clips; text rows carry no embedding.
#include "daemon/media_prompt.h"

#include <gtest/gtest.h>

namespace gemmad::daemon {
namespace {

constexpr MediaTokenIds kIds{.image_begin = 900,
                             .image_soft = 901,
                             .image_end = 902,
                             .audio_begin = 910,
                             .audio_soft = 911,
                             .audio_end = 912};

MediaPart part(Modality m, uint32_t n) {
  MediaPart p;
  p.modality = m;
  p.n_tokens = n;
  return p;
}

TEST(MediaPrompt, PlacesBeginSoftTokensAndEndAtEachPart) {
  std::vector<MediaPart> parts;
  parts.push_back(part(Modality::kVision, 2));
  parts.push_back(part(Modality::kAudio, 3));
  const std::vector<int32_t> text = {1, 2, 3, 4};
  const std::vector<size_t> at = {1, 3};
  auto p = MediaPrompt::place(text, at, std::move(parts), kIds, nullptr);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::vector<int32_t> want = {1, 900, 901, 901, 902, 2, 3, 910, 911, 911, 911, 912, 4};
  EXPECT_EQ((*p)->ids(), want);
  EXPECT_EQ((*p)->first_row(0), 2u);
  EXPECT_EQ((*p)->first_row(1), 8u);
  // Nothing encoded: rows before the first soft token may be fed, none carries an embedding.
  EXPECT_EQ((*p)->ready_rows(), 2u);
  for (size_t r = 0; r < want.size(); ++r)
    EXPECT_EQ((*p)->embedding(r), nullptr) << r;
  // Without encoders the next part cannot be encoded: an error naming it, not a crash.
  kernels::ThreadPool pool(1);
  Status st = (*p)->encode_next(pool);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("media[0]"), std::string::npos);
}

TEST(MediaPrompt, PartsAtTheSamePlaceAndAtTheEndKeepTheirOrder) {
  std::vector<MediaPart> parts;
  parts.push_back(part(Modality::kAudio, 1));
  parts.push_back(part(Modality::kVision, 1));
  parts.push_back(part(Modality::kVision, 1));
  const std::vector<int32_t> text = {5, 6};
  const std::vector<size_t> at = {0, 0, 2};
  auto p = MediaPrompt::place(text, at, std::move(parts), kIds, nullptr);
  ASSERT_TRUE(p.ok());
  const std::vector<int32_t> want = {910, 911, 912, 900, 901, 902, 5, 6, 900, 901, 902};
  EXPECT_EQ((*p)->ids(), want);
  const std::vector<size_t> bad = {2, 1, 2};
  std::vector<MediaPart> again;
  for (int i = 0; i < 3; ++i)
    again.push_back(part(Modality::kVision, 1));
  EXPECT_FALSE(MediaPrompt::place(text, bad, std::move(again), kIds, nullptr).ok());
}

TEST(MediaPrompt, SoftTokensFollowTheImageGridAndTheClipLength) {
  MediaPart image = part(Modality::kVision, 0);
  image.image.width = 640;
  image.image.height = 480;
  auto n = soft_tokens(image);  // docs/ENCODERS.md §2.2: 912x672 -> 19 x 14
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 266u);
  image.image.width = image.image.height = 224;
  EXPECT_EQ(*soft_tokens(image), 256u);  // 768x768
  image.token_budget = 70;
  EXPECT_LE(*soft_tokens(image), 70u);
  MediaPart clip = part(Modality::kAudio, 0);
  clip.pcm.assign(16000, 0.0f);
  EXPECT_EQ(*soft_tokens(clip), 25u);  // 1 s
  clip.pcm.assign(100, 0.0f);
  auto short_clip = soft_tokens(clip);
  ASSERT_FALSE(short_clip.ok());
  EXPECT_NE(short_clip.error().message.find("shorter than one 10 ms feature frame"),
            std::string::npos);
}

}  // namespace
}  // namespace gemmad::daemon
