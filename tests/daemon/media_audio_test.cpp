// WAV reading (every supported sample format, stereo to mono, hostile headers) and
// resampling to the encoder's 16 kHz through libsoxr.
#include <cmath>
#include <cstring>
#include <numbers>

#include <gtest/gtest.h>

#include "daemon/media/resample.h"
#include "daemon/media/wav_reader.h"

namespace gemmad::media {
namespace {

void put16(std::vector<uint8_t>& b, uint32_t v) {
  b.push_back(v & 0xff);
  b.push_back((v >> 8) & 0xff);
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, v & 0xffff);
  put16(b, v >> 16);
}

// A WAV file from raw sample bytes; extensible writes the 40-byte fmt chunk.
std::vector<uint8_t> wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                         const std::vector<uint8_t>& data, bool extensible = false) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E'};
  b.insert(b.end(), {'L', 'I', 'S', 'T'});  // an unrelated chunk of odd size, padded
  put32(b, 3);
  b.insert(b.end(), {'a', 'b', 'c', 0});
  b.insert(b.end(), {'f', 'm', 't', ' '});
  put32(b, extensible ? 40 : 16);
  put16(b, extensible ? 0xfffe : format);
  put16(b, channels);
  put32(b, rate);
  put32(b, rate * channels * bits / 8);
  put16(b, channels * bits / 8);
  put16(b, bits);
  if (extensible) {
    put16(b, 22);
    put16(b, bits);
    put32(b, 0);
    put16(b, format);
    for (int i = 0; i < 14; ++i)
      b.push_back(0);
  }
  b.insert(b.end(), {'d', 'a', 't', 'a'});
  put32(b, static_cast<uint32_t>(data.size()));
  b.insert(b.end(), data.begin(), data.end());
  const uint32_t riff = static_cast<uint32_t>(b.size() - 8);
  std::memcpy(&b[4], &riff, 4);
  return b;
}

TEST(WavReading, DecodesEachIntegerWidth) {
  // Half scale positive then negative, in each width.
  auto r8 = decode_wav(wav(1, 1, 16000, 8, {192, 64}), MediaLimits{});
  ASSERT_TRUE(r8.ok()) << r8.error().message;
  EXPECT_FLOAT_EQ(r8->mono[0], 0.5f);
  EXPECT_FLOAT_EQ(r8->mono[1], -0.5f);
  auto r16 = decode_wav(wav(1, 1, 16000, 16, {0x00, 0x40, 0x00, 0xc0}), MediaLimits{});
  ASSERT_TRUE(r16.ok());
  EXPECT_FLOAT_EQ(r16->mono[0], 0.5f);
  EXPECT_FLOAT_EQ(r16->mono[1], -0.5f);
  auto r24 = decode_wav(wav(1, 1, 16000, 24, {0, 0, 0x40, 0, 0, 0xc0}), MediaLimits{});
  ASSERT_TRUE(r24.ok());
  EXPECT_FLOAT_EQ(r24->mono[0], 0.5f);
  EXPECT_FLOAT_EQ(r24->mono[1], -0.5f);
  auto r32 = decode_wav(wav(1, 1, 16000, 32, {0, 0, 0, 0x40, 0, 0, 0, 0xc0}, true), MediaLimits{});
  ASSERT_TRUE(r32.ok()) << r32.error().message;
  EXPECT_FLOAT_EQ(r32->mono[0], 0.5f);
  EXPECT_FLOAT_EQ(r32->mono[1], -0.5f);
}

TEST(WavReading, AveragesStereoFloatToMono) {
  std::vector<uint8_t> data(16);
  const float s[4] = {0.5f, 0.25f, -1.0f, 0.0f};
  std::memcpy(data.data(), s, 16);
  auto r = decode_wav(wav(3, 2, 44100, 32, data), MediaLimits{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->sample_rate, 44100u);
  ASSERT_EQ(r->mono.size(), 2u);
  EXPECT_FLOAT_EQ(r->mono[0], 0.375f);
  EXPECT_FLOAT_EQ(r->mono[1], -0.5f);
}

TEST(WavReading, RefusesBadHeadersNamingTheField) {
  auto expect = [](const std::vector<uint8_t>& file, const std::string& text) {
    auto r = decode_wav(file, MediaLimits{});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
  };
  expect({'R', 'I', 'F', 'F'}, "not a RIFF/WAVE file");
  expect(wav(2, 1, 16000, 16, {0, 0}), "format code 2");
  expect(wav(1, 1, 16000, 12, {0, 0}), "12 bits per sample");
  expect(wav(1, 3, 16000, 16, {0, 0, 0, 0, 0, 0}), "3 channels");
  expect(wav(1, 1, 10, 16, {0, 0}), "sample rate 10 Hz");
  expect(wav(1, 1, 16000, 16, {}), "no samples");
  auto cut = wav(1, 1, 16000, 16, {0, 0, 0, 0});
  cut.resize(cut.size() - 2);
  expect(cut, "data chunk says 4 bytes, 2 left");
  std::vector<uint8_t> nan(4);
  const float n = std::nanf("");
  std::memcpy(nan.data(), &n, 4);
  expect(wav(3, 1, 16000, 32, nan), "sample 0 of channel 0 is not a finite number");
}

TEST(WavReading, ChecksDurationAndBytesFromTheHeader) {
  MediaLimits limits;
  limits.max_audio_seconds = 1;
  auto r = read_wav_format(wav(1, 1, 1000, 8, std::vector<uint8_t>(1001, 128)), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(r.error().message.find("media.max_audio_seconds"), std::string::npos);
  limits.max_audio_bytes = 100;
  auto b = read_wav_format(wav(1, 1, 1000, 8, std::vector<uint8_t>(200, 128)), limits);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("media.max_audio_bytes"), std::string::npos);
}

TEST(Resampling, Turns48kHzIntoA16kHzSineOfTheSameFrequency) {
  std::vector<float> in(48000);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = 0.5f * std::sin(2 * std::numbers::pi * 440.0 * i / 48000.0);
  auto out = resample(in, 48000, 16000);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NEAR(static_cast<double>(out->size()), 16000.0, 64.0);
  // Away from the edges (filter delay), the samples follow the sine at 16 kHz.
  double err = 0;
  size_t n = 0;
  double best = 1e9;
  for (int shift = -40; shift <= 40; ++shift) {
    err = 0;
    n = 0;
    for (size_t i = 1000; i < 15000; ++i) {
      const double t = (static_cast<double>(i) + shift) / 16000.0;
      err += std::abs((*out)[i] - 0.5 * std::sin(2 * std::numbers::pi * 440.0 * t));
      ++n;
    }
    best = std::min(best, err / n);
  }
  EXPECT_LT(best, 0.01);
}

TEST(Resampling, DecodesA16kHzWavWithoutChange) {
  auto r = decode_audio_16k(wav(1, 1, 16000, 16, {0x00, 0x40, 0x00, 0xc0}), MediaLimits{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_FLOAT_EQ((*r)[0], 0.5f);
}

}  // namespace
}  // namespace gemmad::media
