// AudioEncoder over the combined synthetic mmproj that `gemmactl model synth --mmproj` writes
// (vision's synth_mmproj + this tower): binds to its text model, refuses another width and
// an audio-less file, covers its tensors with byte ranges, and encodes to [tokens][d].
#include "audio/audio_encoder.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cctype>

#include <fstream>
#include <sstream>
#include <string_view>

#include "audio/synth_audio.h"
#include "kernels/thread_pool.h"
#include "models/gemma4_config.h"
#include "synth/synth_mmproj.h"
#include "tests/common/temp_dir.h"
#include "tests/engine/audio/audio_test_util.h"

namespace gemmad::audio {
namespace {

// Resident kB of this process's mappings of `path` (/proc/self/smaps "Rss:" lines).
uint64_t mapped_rss_kb(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_file = false;
  uint64_t kb = 0;
  while (std::getline(smaps, line)) {
    const bool header = !line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) &&
                        line.find('-') != std::string::npos && line.find(':') > line.find(' ');
    if (header) {
      in_file = line.size() >= path.size() &&
                line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (in_file && line.rfind("Rss:", 0) == 0) {
      std::istringstream in(line.substr(4));
      uint64_t v = 0;
      in >> v;
      kb += v;
    }
  }
  return kb;
}

class AudioEncoderOnMmproj : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    synth::MmprojOptions o;  // tiny, F16
    o.seed = 5;
    auto r = synth::write_synthetic_mmproj(o, dir_.file("mm.gguf"));
    ASSERT_TRUE(r.ok()) << r.error().message;
    auto m = mmproj::MmprojFile::open(dir_.file("mm.gguf"));
    ASSERT_TRUE(m.ok()) << m.error().message;
    file_ = std::move(*m);
    text_ = *engine::Gemma4Config::preset("tiny");
  }

  gemmad::testing::TempDir dir_;
  std::unique_ptr<mmproj::MmprojFile> file_;
  engine::Gemma4Config text_;
};

TEST_F(AudioEncoderOnMmproj, BindsToItsTextModelAndEncodesToTheTextWidth) {
  ASSERT_TRUE(file_->has_vision());
  ASSERT_TRUE(file_->has_audio());
  auto enc = AudioEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok()) << enc.error().message;
  kernels::ThreadPool pool(2);
  auto e = (*enc)->encode(testing::chirp(2 * kSampleRate), pool);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->n_tokens, 50u);
  EXPECT_EQ(e->dim, text_.n_embd);
  EXPECT_EQ(e->data.size(), size_t{50} * text_.n_embd);
}

TEST_F(AudioEncoderOnMmproj, RefusesATextModelOfAnotherWidth) {
  engine::Gemma4Config other = text_;
  other.n_embd = text_.n_embd * 2;
  auto enc = AudioEncoder::bind(*file_, other);
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.error().message.find("clip.audio.projection_dim"), std::string::npos)
      << enc.error().message;
  EXPECT_NE(enc.error().message.find(dir_.file("mm.gguf")), std::string::npos);
}

TEST_F(AudioEncoderOnMmproj, ByteRangesCoverEveryAudioTensorAndNoVisionTensor) {
  auto enc = AudioEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok());
  const std::vector<mmproj::ByteRange> r = (*enc)->byte_ranges();
  ASSERT_FALSE(r.empty());
  const gguf::GgufFile& g = file_->gguf();
  uint64_t audio_bytes = 0;
  for (const gguf::TensorInfo& t : g.tensors()) {
    const uint64_t b = g.data_offset() + t.offset, e = b + t.n_bytes;
    bool inside = false;
    for (const mmproj::ByteRange& x : r)
      inside |= b >= x.offset && e <= x.offset + x.size;
    const std::string_view n = t.name;
    const bool audio = n.rfind("a.", 0) == 0 || n.rfind("mm.a.", 0) == 0;
    if (audio) {
      EXPECT_TRUE(inside) << t.name;
      audio_bytes += t.n_bytes;
    }
  }
  EXPECT_EQ((*enc)->weight_bytes(), audio_bytes);
}

// Open + bind read only the header: the tower's pages are faulted in by the first encode.
// Slack: the kernel maps up to 64 KB around a faulting page that is already cached.
TEST_F(AudioEncoderOnMmproj, TouchesNoWeightPageBeforeTheFirstEncode) {
  const std::string path = dir_.file("mm.gguf");
  auto enc = AudioEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok());
  const uint64_t audio_kb = (*enc)->weight_bytes() / 1024;
  ASSERT_GT(audio_kb, 200u) << "the tiny tower must dwarf the slack for this test to mean much";
  const uint64_t before = mapped_rss_kb(path);
  RecordProperty("rss_kb_after_bind", std::to_string(before));
  EXPECT_LE(before, 128u) << "open + bind made " << before << " kB of the file resident";
  kernels::ThreadPool pool(1);
  ASSERT_TRUE((*enc)->encode(testing::tone(4000), pool).ok());
  const uint64_t after = mapped_rss_kb(path);
  RecordProperty("rss_kb_after_encode", std::to_string(after));
  EXPECT_GE(after, audio_kb) << "encode reads every audio weight";
}

TEST(AudioEncoder, RefusesAnMmprojWithoutAudio) {
  gemmad::testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  synth::MmprojOptions o;
  ASSERT_TRUE(synth::write_synthetic_mmproj(o, dir.file("v.gguf")).ok());
  // Rewrite without the audio tower: keys and vision tensors only, has_audio false.
  auto src = gguf::GgufFile::open(dir.file("v.gguf"));
  ASSERT_TRUE(src.ok());
  gguf::GgufWriter w;
  for (const gguf::KeyValue& kv : (*src)->metadata())
    if (kv.key.rfind("clip.audio.", 0) != 0) w.copy_kv(kv);
  w.set_bool("clip.has_audio_encoder", false);
  for (const gguf::TensorInfo& t : (*src)->tensors()) {
    if (t.name.rfind("a.", 0) == 0 || t.name.rfind("mm.a.", 0) == 0) continue;
    const uint8_t* d = t.data;
    const uint64_t n = t.n_bytes;
    std::vector<uint64_t> ne(t.ne, t.ne + t.n_dims);
    w.add_tensor(t.name, t.type, ne,
                 [d, n](std::span<uint8_t> out) { std::copy(d, d + n, out.begin()); });
  }
  ASSERT_TRUE(w.write(dir.file("vision-only.gguf")).ok());
  auto m = mmproj::MmprojFile::open(dir.file("vision-only.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto enc = AudioEncoder::bind(**m, *engine::Gemma4Config::preset("tiny"));
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.error().message.find("has no audio encoder"), std::string::npos)
      << enc.error().message;
}

}  // namespace
}  // namespace gemmad::audio
