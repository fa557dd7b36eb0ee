// The log-mel front end: frame counts, the filterbank's shape, silence, a tone's peak, and
// the errors. The value-by-value comparison with NumPy is tests/reference/check_audio.py.
#include "audio/mel_features.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/engine/audio/audio_test_util.h"

namespace gemmad::audio {
namespace {

TEST(MelFrameCount, FollowsTheSemicausalFraming) {
  EXPECT_EQ(mel_frame_count(0), 0u);
  EXPECT_EQ(mel_frame_count(160), 0u);
  EXPECT_EQ(mel_frame_count(161), 1u);
  EXPECT_EQ(mel_frame_count(320), 1u);
  EXPECT_EQ(mel_frame_count(321), 2u);
  EXPECT_EQ(mel_frame_count(16000), 99u);     // 1 s
  EXPECT_EQ(mel_frame_count(480000), 2999u);  // 30 s
}

TEST(MelFilterbank, HasEmptyFirstFilterAndUnitPeakedTriangles) {
  const std::vector<double>& fb = mel_filterbank();
  ASSERT_EQ(fb.size(), size_t{kMelBins} * kFftBins);
  for (uint32_t k = 0; k < kFftBins; ++k)
    EXPECT_EQ(fb[k], 0.0) << "filter 0 falls between bins 0 and 1";
  for (uint32_t m = 1; m < kMelBins; ++m) {
    const auto row = fb.begin() + m * kFftBins;
    const double peak = *std::max_element(row, row + kFftBins);
    EXPECT_GT(peak, 0.0) << "filter " << m;
    EXPECT_LE(peak, 1.0) << "filter " << m;
  }
}

TEST(LogMelFeatures, OfSilenceAreTheLogFloor) {
  auto f = log_mel_features(std::vector<float>(16000, 0.0f));
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->n_frames, 99u);
  ASSERT_EQ(f->data.size(), 99u * kMelBins);
  for (float v : f->data)
    EXPECT_FLOAT_EQ(v, std::log(kLogFloor));
}

TEST(LogMelFeatures, OfATonePeakInItsMelBin) {
  // 1 kHz is mel 1000 of 2840 over 129 steps: triangle centre f_{m+1} with m + 1 ~ 45.4.
  auto f = log_mel_features(testing::tone(16000, 1000.0));
  ASSERT_TRUE(f.ok());
  const float* row = f->data.data() + 50 * kMelBins;  // a frame in the middle
  const auto peak = std::max_element(row, row + kMelBins) - row;
  EXPECT_GE(peak, 43);
  EXPECT_LE(peak, 46);
  EXPECT_GT(row[peak], std::log(kLogFloor) + 5.0f);
}

TEST(LogMelFeatures, OfTooShortAudioAreEmpty) {
  auto f = log_mel_features(std::vector<float>(100, 0.1f));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->n_frames, 0u);
  EXPECT_TRUE(f->data.empty());
}

TEST(LogMelFeatures, RejectNonFiniteSamplesNamingTheIndex) {
  std::vector<float> x(1000, 0.0f);
  x[7] = std::numeric_limits<float>::quiet_NaN();
  auto f = log_mel_features(x);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(f.error().message.find("sample 7 is nan"), std::string::npos) << f.error().message;
  x[7] = 0.0f;
  x[999] = std::numeric_limits<float>::infinity();
  f = log_mel_features(x);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("sample 999 is inf"), std::string::npos) << f.error().message;
}

}  // namespace
}  // namespace gemmad::audio
