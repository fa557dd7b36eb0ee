// MmprojFile on synthetic encoder files from the real writer: the tiny and E2B layouts open,
// byte ranges cover each modality's tensors page-aligned, and hostile files (wrong type key,
// missing/misshaped/mistyped tensors, stray tensors) fail with errors naming the culprit.
#include <gtest/gtest.h>

#include <unistd.h>

#include <functional>
#include <string_view>

#include "gguf/gguf_writer.h"
#include "mmproj/mmproj_file.h"
#include "synth/synth_mmproj.h"
#include "tests/common/temp_dir.h"

namespace gemmad::mmproj {
namespace {

using gemmad::testing::TempDir;

// Writes the tiny vision mmproj with the plan and keys edited by `edit` (nullptr = as is).
struct Edit {
  std::function<void(std::vector<synth::TensorPlan>&)> plan;
  std::function<void(gguf::GgufWriter&)> keys;
};
std::string write_edited(const TempDir& dir, const Edit& e, const std::string& name) {
  const std::string path = dir.file(name);
  synth::MmprojOptions o;
  o.with_audio = false;  // these cases are about the vision tower
  Result<synth::SynthSummary> r = synth::write_synthetic_mmproj(o, path);
  EXPECT_TRUE(r.ok());
  if (!e.plan && !e.keys) return path;
  // Rebuild through the writer: the same keys as the synthetic file, then the edits.
  auto f = gguf::GgufFile::open(path);
  EXPECT_TRUE(f.ok());
  gguf::GgufWriter w(32);
  for (const gguf::KeyValue& kv : (*f)->metadata())
    w.copy_kv(kv);
  if (e.keys) e.keys(w);
  std::vector<synth::TensorPlan> plan =
      synth::plan_vision_tensors(*synth::vision_preset("tiny"), synth::MmprojQuant::kF16);
  if (e.plan) e.plan(plan);
  for (const synth::TensorPlan& t : plan) {
    w.add_tensor(t.name, t.type, t.ne,
                 [](std::span<uint8_t> out) { std::fill(out.begin(), out.end(), uint8_t{0}); });
  }
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

std::string open_error(const std::string& path) {
  auto m = MmprojFile::open(path);
  return m.ok() ? std::string("<opened>") : m.error().message;
}

TEST(MmprojFile, TinySyntheticOpensWithItsShape) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = write_edited(dir, {}, "mm.gguf");
  auto m = MmprojFile::open(path);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE((*m)->has_vision());
  EXPECT_FALSE((*m)->has_audio());
  const VisionHparams& h = (*m)->vision_hparams();
  EXPECT_EQ(h.n_embd, 64u);
  EXPECT_EQ(h.n_layer, 2u);
  EXPECT_EQ(h.proj_dim, 64u);  // the tiny text width
  EXPECT_EQ(h.n_pos, 256u);
  EXPECT_EQ((*m)->gguf().tensors().size(), vision_tensor_table(h).size());
}

TEST(MmprojFile, E2bLayoutHasTheRealTensorCount) {
  // Names and shapes only (no file): 16 blocks x 41 tensors + patch, position, projector.
  const VisionHparams h = *synth::vision_preset("e2b");
  EXPECT_EQ(vision_tensor_table(h).size(), 16u * 41u + 3u);
  EXPECT_EQ(h.proj_dim, 1536u);
  EXPECT_EQ(synth::vision_preset("e4b")->proj_dim, 2560u);
}

TEST(MmprojFile, TensorRangesArePageAlignedAndCoverTheTensors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto m = MmprojFile::open(write_edited(dir, {}, "mm.gguf"));
  ASSERT_TRUE(m.ok());
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const std::string_view prefixes[] = {"v.", "mm.input_projection"};
  const std::vector<ByteRange> r = (*m)->tensor_ranges(prefixes);
  ASSERT_FALSE(r.empty());
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].offset % page, 0u);
    EXPECT_EQ(r[i].size % page, 0u);
    if (i > 0) {
      EXPECT_GT(r[i].offset, r[i - 1].offset + r[i - 1].size);  // merged
    }
  }
  const gguf::GgufFile& g = (*m)->gguf();
  for (const gguf::TensorInfo& t : g.tensors()) {
    const uint64_t b = g.data_offset() + t.offset, e = b + t.n_bytes;
    bool covered = false;
    for (const ByteRange& x : r)
      covered |= b >= x.offset && e <= x.offset + x.size;
    EXPECT_TRUE(covered) << t.name;
  }
  const std::string_view audio[] = {"a.", "mm.a."};
  EXPECT_TRUE((*m)->tensor_ranges(audio).empty());
}

TEST(MmprojFile, HostileFilesNameWhatIsWrong) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  struct Case {
    const char* what;
    Edit edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"type",
       {nullptr, [](gguf::GgufWriter& w) { w.set_string("general.type", "model"); }},
       "'general.type' is 'model'"},
      {"projector",
       {nullptr, [](gguf::GgufWriter& w) { w.set_string("clip.vision.projector_type", "gemma3"); }},
       "projector_type"},
      {"patch",
       {nullptr, [](gguf::GgufWriter& w) { w.set_u32("clip.vision.patch_size", 14); }},
       "clip.vision.patch_size' is 14"},
      {"heads",
       {nullptr, [](gguf::GgufWriter& w) { w.set_u32("clip.vision.attention.head_count", 3); }},
       "head width"},
      {"missing",
       {[](std::vector<synth::TensorPlan>& p) {
          std::erase_if(p, [](auto& t) { return t.name == "v.blk.1.attn_k.weight"; });
        },
        nullptr},
       "tensor 'v.blk.1.attn_k.weight' is missing"},
      {"shape",
       {[](std::vector<synth::TensorPlan>& p) {
          for (auto& t : p)
            if (t.name == "v.blk.0.ffn_down.weight") t.ne = {64, 128};
        },
        nullptr},
       "'v.blk.0.ffn_down.weight' has shape {64, 128}; expected {128, 64}"},
      {"f32 norm",
       {[](std::vector<synth::TensorPlan>& p) {
          for (auto& t : p)
            if (t.name == "v.blk.0.ln1.weight") t.type = quant::GgmlType::kF16;
        },
        nullptr},
       "'v.blk.0.ln1.weight' has type f16; expected f32"},
      {"stray",
       {[](std::vector<synth::TensorPlan>& p) {
          p.push_back({"blk.0.attn_q.weight", quant::GgmlType::kF32, {32}, {}});
        },
        nullptr},
       "'blk.0.attn_q.weight' is not an encoder tensor"},
      {"audio flag",
       {[](std::vector<synth::TensorPlan>& p) {
          p.push_back({"a.blk.0.ln2.weight", quant::GgmlType::kF32, {32}, {}});
        },
        nullptr},
       "clip.has_audio_encoder is false"},
      {"no encoder",
       {nullptr, [](gguf::GgufWriter& w) { w.set_bool("clip.has_vision_encoder", false); }},
       "neither"},
  };
  for (const Case& c : cases) {
    const std::string err = open_error(write_edited(dir, c.edit, std::string(c.what) + ".gguf"));
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.what << ": " << err;
  }
}

}  // namespace
}  // namespace gemmad::mmproj
