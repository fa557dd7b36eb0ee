// The vision encoder on the tiny synthetic mmproj: target sizes of docs/ENCODERS.md §2.2, the
// resize, bind against the text model, clear errors for bad images and budgets, a bind that
// maps no weight page, and encode() determinism across thread counts. (Numerics against the
// NumPy reference: tests/reference/vision_ref_test.py.)
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "mmproj/mmproj_file.h"
#include "models/gemma4_config.h"
#include "synth/synth_mmproj.h"
#include "tests/common/temp_dir.h"
#include "vision/image_resize.h"
#include "vision/vision_encoder.h"

namespace gemmad::vision {
namespace {

using gemmad::testing::TempDir;

TEST(VisionTargetSize, MatchesTheSpecExamples) {
  auto a = target_size(224, 224, 280);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->width, 768u);
  EXPECT_EQ(a->height, 768u);
  EXPECT_EQ(a->n_tokens(), 256u);
  auto b = target_size(640, 480, 280);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->width, 912u);
  EXPECT_EQ(b->height, 672u);
  EXPECT_EQ(b->n_tokens(), 266u);
  for (uint32_t budget : {70u, 140u, 280u, 560u, 1120u}) {
    auto t = target_size(1000, 700, budget);
    ASSERT_TRUE(t.ok());
    EXPECT_LE(t->n_tokens(), budget);
    EXPECT_GT(t->n_tokens(), budget * 8 / 10) << budget;  // fills the budget
  }
  // A thin strip: one pooled row, as many cells as the aspect gives, capped by the budget.
  auto s = target_size(4000, 10, 70);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->height, 48u);
  EXPECT_EQ(s->width, 70u * 48u);
}

TEST(VisionTargetSize, RejectsBadInputNamingTheField) {
  auto b = target_size(100, 100, 69);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("budget 69 is outside [70, 1120]"), std::string::npos);
  auto z = target_size(0, 100, 280);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message.find("0x100"), std::string::npos);
}

TEST(VisionResize, ConstantImageStaysConstantAndIdentityOnlyRescales) {
  Image img{37, 23, std::vector<uint8_t>(37 * 23 * 3, 200)};
  for (auto [w, h] : {std::pair{96u, 48u}, std::pair{16u, 16u}}) {
    const std::vector<float> out = resize_to_unit(img, w, h);
    ASSERT_EQ(out.size(), size_t{w} * h * 3);
    for (float v : out)
      ASSERT_NEAR(v, 200.0f / 255.0f, 1e-5f);  // weights sum to one, up and down
  }
  Image g{2, 1, {0, 51, 255, 10, 20, 30}};
  const std::vector<float> same = resize_to_unit(g, 2, 1);
  EXPECT_FLOAT_EQ(same[1], 51.0f / 255.0f);
  EXPECT_FLOAT_EQ(same[2], 1.0f);
}

class VisionEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("mm.gguf");
    synth::MmprojOptions o;
    o.quant = synth::MmprojQuant::kF16;
    ASSERT_TRUE(synth::write_synthetic_mmproj(o, path_).ok());
    auto m = mmproj::MmprojFile::open(path_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    file_ = std::move(m).value();
    text_ = *engine::Gemma4Config::preset("tiny");
  }
  // Resident bytes of this process's mapping of the mmproj (/proc/self/smaps).
  uint64_t mapped_rss() const {
    std::ifstream in("/proc/self/smaps");
    std::string line;
    bool ours = false;
    uint64_t kb = 0;
    while (std::getline(in, line)) {
      if (line.find(" r") != std::string::npos && line.find('-') < line.find(' ') &&
          line.find('/') != std::string::npos) {
        ours = line.size() >= path_.size() &&
               line.compare(line.size() - path_.size(), path_.size(), path_) == 0;
      } else if (ours && line.rfind("Rss:", 0) == 0) {
        std::istringstream is(line.substr(4));
        uint64_t v = 0;
        is >> v;
        kb += v;
      }
    }
    return kb * 1024;
  }
  static Image test_image(uint32_t w, uint32_t h) {
    Image img{w, h, std::vector<uint8_t>(size_t{w} * h * 3)};
    for (size_t i = 0; i < img.rgb.size(); ++i)
      img.rgb[i] = static_cast<uint8_t>((i * 37 + i / 7) % 251);
    return img;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<mmproj::MmprojFile> file_;
  engine::Gemma4Config text_;
};

TEST_F(VisionEncoderTest, BindMapsNoWeightPageAndEncodeDoes) {
  const uint64_t before = mapped_rss();
  auto enc = VisionEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok()) << enc.error().message;
  // bind reads no tensor data: at most the two pages the ASan/Debug build was seen to add
  // around the header (fault-around); the tower itself is far larger (checked below).
  EXPECT_LE(mapped_rss(), before + 8192);
  EXPECT_GT((*enc)->weight_bytes(), 100000u);
  uint64_t range_bytes = 0;
  for (const mmproj::ByteRange& r : (*enc)->byte_ranges())
    range_bytes += r.size;
  EXPECT_GE(range_bytes, (*enc)->weight_bytes());
  kernels::ThreadPool pool(2);
  auto e = (*enc)->encode(test_image(120, 90), kMinTokenBudget, pool);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_GT(mapped_rss(), before + 8192);
  EXPECT_EQ(e->dim, text_.n_embd);
  EXPECT_EQ(e->n_tokens, target_size(120, 90, kMinTokenBudget)->n_tokens());
  EXPECT_EQ(e->data.size(), size_t{e->n_tokens} * e->dim);
}

TEST_F(VisionEncoderTest, OutputDoesNotDependOnTheThreadCount) {
  auto enc = VisionEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok());
  kernels::ThreadPool one(1), two(2);
  auto a = (*enc)->encode(test_image(50, 70), kMinTokenBudget, one);
  auto b = (*enc)->encode(test_image(50, 70), kMinTokenBudget, two);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data, b->data);
}

TEST_F(VisionEncoderTest, BadInputIsAClearError) {
  auto enc = VisionEncoder::bind(*file_, text_);
  ASSERT_TRUE(enc.ok());
  kernels::ThreadPool pool(1);
  Image short_rgb = test_image(10, 10);
  short_rgb.rgb.pop_back();
  auto r = (*enc)->encode(short_rgb, kDefaultTokenBudget, pool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("rgb holds 299 bytes"), std::string::npos) << r.error().message;
  auto b = (*enc)->encode(test_image(10, 10), 2000, pool);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("budget 2000"), std::string::npos);
  // The tiny tower's 256-row position table: a strip 3360 patches long does not fit.
  auto g = (*enc)->encode(test_image(4000, 1), kMaxTokenBudget, pool);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("exceeds the position table of 256"), std::string::npos)
      << g.error().message;
}

TEST_F(VisionEncoderTest, BindRejectsAnotherTextWidth) {
  engine::Gemma4Config e2b = *engine::Gemma4Config::preset("e2b");
  auto enc = VisionEncoder::bind(*file_, e2b);
  ASSERT_FALSE(enc.ok());
  EXPECT_NE(enc.error().message.find("vision projection width 64"), std::string::npos);
  EXPECT_NE(enc.error().message.find("text model's width 1536"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::vision
