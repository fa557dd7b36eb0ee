// The audio tower on the tiny synthetic mmproj: the tensor table's checks, token counts
// (25 per second), 30 s chunking, determinism and the input errors. Values against NumPy:
// tests/reference/check_audio.py.
#include "audio/audio_tower.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "audio/audio_weights.h"
#include "gguf/gguf_file.h"
#include "kernels/thread_pool.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/audio/audio_test_util.h"

namespace gemmad::audio {
namespace {

constexpr uint32_t kTextD = 48;

class AudioTower : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("mmproj.gguf");
    Status s = testing::write_audio_mmproj(path_, "tiny", kTextD, quant::GgmlType::kF16);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto f = gguf::GgufFile::open(path_);
    ASSERT_TRUE(f.ok()) << f.error().message;
    file_ = std::move(*f);
    auto w = AudioWeights::bind(*file_, kTextD);
    ASSERT_TRUE(w.ok()) << w.error().message;
    w_ = std::move(*w);
  }

  gemmad::testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<gguf::GgufFile> file_;
  AudioWeights w_;
  kernels::ThreadPool pool_{2};
};

TEST_F(AudioTower, BindsTheTinyShape) {
  const SynthAudioShape s = *synth_audio_shape("tiny");
  EXPECT_EQ(w_.hp.hidden, s.hidden);
  EXPECT_EQ(w_.hp.n_layer, s.n_layer);
  EXPECT_EQ(w_.hp.head_dim, s.hidden / s.n_head);
  EXPECT_EQ(w_.hp.sscp_c1, s.sscp_c1);
  EXPECT_EQ(w_.hp.sscp_c2, s.sscp_c2);
  EXPECT_EQ(w_.hp.out_dim, s.out_dim);
  // 8 tower-wide tensors + 62 per layer (docs/ENCODERS.md §3.4).
  EXPECT_EQ(w_.tensor_names.size(), 8u + 62u * s.n_layer);
  EXPECT_GT(w_.weight_bytes, 0u);
}

TEST_F(AudioTower, RefusesAnMmprojForAnotherTextWidth) {
  auto w = AudioWeights::bind(*file_, 1536);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("clip.audio.projection_dim"), std::string::npos);
  EXPECT_NE(w.error().message.find("48"), std::string::npos);
  EXPECT_NE(w.error().message.find("1536"), std::string::npos);
}

TEST_F(AudioTower, RefusesWrongKeysAndShapesNamingThem) {
  const auto bind_with = [&](auto edit) {
    gguf::GgufWriter wr;
    wr.set_string("general.architecture", "clip");
    wr.set_string("general.type", "mmproj");
    write_synth_audio_tensors(wr, *synth_audio_shape("tiny"), kTextD, quant::GgmlType::kF32, 1);
    edit(wr);
    const std::string p = dir_.file("bad.gguf");
    EXPECT_TRUE(wr.write(p).ok());
    auto f = gguf::GgufFile::open(p);
    EXPECT_TRUE(f.ok());
    auto w = AudioWeights::bind(**f, kTextD);
    return w.ok() ? std::string() : w.error().message;
  };
  EXPECT_NE(bind_with([](gguf::GgufWriter& w) {
              w.set_u32("clip.audio.num_mel_bins", 80);
            }).find("'clip.audio.num_mel_bins': is 80; expected 128..128"),
            std::string::npos);
  EXPECT_NE(bind_with([](gguf::GgufWriter& w) {
              w.set_string("clip.audio.projector_type", "gemma3n");
            }).find("expected 'gemma4a'"),
            std::string::npos);
  // A layer count above the tensors present: the first missing tensor is named.
  EXPECT_NE(bind_with([](gguf::GgufWriter& w) {
              w.set_u32("clip.audio.block_count", 3);
            }).find("required tensor 'a.blk.2.ffn_norm.weight' is missing"),
            std::string::npos);
  // A width the tensors do not have: the first tensor of the wrong shape is named.
  EXPECT_NE(bind_with([](gguf::GgufWriter& w) {
              w.set_u32("clip.audio.feed_forward_length", 256);
            }).find("tensor 'a.blk.0.ffn_up.weight': shape {64, 128}; expected {64, 256}"),
            std::string::npos);
}

TEST_F(AudioTower, GivesTwentyFiveTokensPerSecond) {
  EXPECT_EQ(audio_token_count(16000), 25u);
  EXPECT_EQ(audio_token_count(480000), 750u);
  EXPECT_EQ(audio_token_count(161), 1u);
  auto r = encode_pcm(w_, testing::chirp(16000), pool_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->n_tokens, 25u);
  ASSERT_EQ(r->data.size(), 25u * kTextD);
  double sq = 0.0;
  for (float v : r->data) {
    ASSERT_TRUE(std::isfinite(v));
    sq += double{v} * v;
  }
  EXPECT_GT(sq / r->data.size(), 1e-3) << "embeddings should not vanish";
}

TEST_F(AudioTower, GivesTheSameTokensOnOneThreadAndTwo) {
  const std::vector<float> x = testing::chirp(8000);
  kernels::ThreadPool one(1);
  auto a = encode_pcm(w_, x, one);
  auto b = encode_pcm(w_, x, pool_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data, b->data);
}

TEST_F(AudioTower, EncodesLongAudioInIndependentThirtySecondChunks) {
  const size_t n = kChunkSamples + 16000;  // 31 s
  const std::vector<float> x = testing::chirp(n);
  const std::span<const float> all(x);
  auto whole = encode_pcm(w_, all, pool_);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  ASSERT_EQ(whole->n_tokens, 775u);
  EXPECT_EQ(audio_token_count(n), 775u);
  // The first 30 s plus a sliver too short for a frame: the sliver adds nothing, and the
  // first chunk's tokens do not depend on what follows it.
  auto head = encode_pcm(w_, all.first(kChunkSamples + 100), pool_);
  auto tail = encode_pcm(w_, all.subspan(kChunkSamples), pool_);
  ASSERT_TRUE(head.ok() && tail.ok());
  ASSERT_EQ(head->n_tokens, 750u);
  ASSERT_EQ(tail->n_tokens, 25u);
  std::vector<float> joined = head->data;
  joined.insert(joined.end(), tail->data.begin(), tail->data.end());
  EXPECT_EQ(joined, whole->data);
}

TEST_F(AudioTower, RefusesAudioShorterThanOneFrame) {
  for (size_t n : {size_t{0}, size_t{160}}) {
    auto r = encode_pcm(w_, std::vector<float>(n, 0.0f), pool_);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("shorter than one frame; at least 161 samples"),
              std::string::npos)
        << r.error().message;
  }
  auto r = encode_pcm(w_, std::vector<float>(161, 0.0f), pool_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_tokens, 1u);
}

TEST_F(AudioTower, RefusesNonFiniteSamples) {
  std::vector<float> x = testing::tone(4000);
  x[1234] = -std::numeric_limits<float>::infinity();
  auto r = encode_pcm(w_, x, pool_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("sample 1234 is -inf"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace gemmad::audio

namespace gemmad::audio {
namespace {

TEST(SynthAudio, AddsEightTensorsPlusSixtyTwoPerLayer) {
  for (const char* preset : {"tiny", "e2b"}) {
    gguf::GgufWriter w;
    const SynthAudioShape s = *synth_audio_shape(preset);
    EXPECT_EQ(write_synth_audio_tensors(w, s, 1536, quant::GgmlType::kF16, 1), 8u + 62u * s.n_layer)
        << preset;
  }
  EXPECT_FALSE(synth_audio_shape("e3b").has_value());
}

}  // namespace
}  // namespace gemmad::audio
