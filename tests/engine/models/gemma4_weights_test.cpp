// Loading Gemma 4 files: the tensor table's required/optional/ignored rules, errors that name
// the tensor, and shape notes against the known variants.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "model_test_util.h"

namespace gemmad::engine::testing {
namespace {

Result<std::unique_ptr<runtime::Model>> write_and_load(const TinyModelSpec& spec,
                                                       const gguf::testing::TempDir& dir) {
  const std::string path = dir.file("m.gguf");
  Status st = write_tiny_model(spec, path);
  if (!st.ok()) return std::move(st).error();
  return runtime::Model::load(path);
}

std::string load_error(const TinyModelSpec& spec) {
  gguf::testing::TempDir dir;
  auto m = write_and_load(spec, dir);
  if (m.ok()) return "";
  EXPECT_EQ(m.error().code, ErrorCode::kBadModelFile);
  return m.error().message;
}

TEST(Gemma4Weights, BindsEveryTensorOfTheTinyModel) {
  gguf::testing::TempDir dir;
  TinyModelSpec spec;
  auto m = write_and_load(spec, dir);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const Gemma4Weights& w = (*m)->weights();
  const Gemma4Config& c = (*m)->config();
  ASSERT_EQ(w.layers.size(), 6u);
  EXPECT_TRUE(w.layers[3].attn_k.present());
  EXPECT_FALSE(w.layers[4].attn_k.present());     // shared layer
  EXPECT_EQ(w.layers[5].attn_q.w.n_out, 2 * 64);  // full layer: H * 64
  EXPECT_EQ(w.layers[0].attn_q.w.n_out, 2 * 32);
  EXPECT_EQ(w.output.w.data, w.token_embd.data);  // tied LM head
  // Views into the mapping, not copies.
  EXPECT_EQ(w.token_embd.data, (*m)->file().find_tensor("token_embd.weight")->data);
  EXPECT_EQ(static_cast<const void*>(w.layers[2].ffn_norm),
            static_cast<const void*>((*m)->file().find_tensor("blk.2.ffn_norm.weight")->data));
  EXPECT_TRUE((*m)->shape_notes().empty());

  // Bytes per decoded token: every tensor except the PLE and token tables, which count one
  // row each, plus the whole token table once more as the LM head.
  uint64_t want = 0;
  for (const gguf::TensorInfo& t : (*m)->file().tensors()) {
    if (t.name == "rope_freqs.weight" || t.name.find("layer_output_scale") != std::string::npos) {
      continue;
    }
    if (t.name == "per_layer_token_embd.weight") {
      want += t.n_bytes / t.ne[1];
    } else if (t.name == "token_embd.weight") {
      want += t.n_bytes + t.n_bytes / t.ne[1];
    } else {
      want += t.n_bytes;
    }
  }
  EXPECT_EQ(w.bytes_per_decoded_token(), want);
  (void)c;
}

TEST(Gemma4Weights, AMissingTensorIsNamed) {
  TinyModelSpec spec;
  spec.omit = "blk.2.ffn_up.weight";
  EXPECT_NE(load_error(spec).find("'blk.2.ffn_up.weight' is missing"), std::string::npos);
  spec.omit = "blk.1.attn_k.weight";  // a KV-owning layer needs K
  EXPECT_NE(load_error(spec).find("blk.1.attn_k.weight"), std::string::npos);
  spec.omit = "per_layer_token_embd.weight";
  EXPECT_NE(load_error(spec).find("per_layer_token_embd.weight"), std::string::npos);
  spec.omit = "rope_freqs.weight";
  EXPECT_NE(load_error(spec).find("rope_freqs.weight"), std::string::npos);
}

TEST(Gemma4Weights, AWrongShapeIsNamedWithTheExpectedShape) {
  TinyModelSpec spec;
  spec.wrong_shape = "blk.3.attn_q.weight";
  const std::string e = load_error(spec);
  EXPECT_NE(e.find("'blk.3.attn_q.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("shape {128, 128}; expected {64, 128}"), std::string::npos) << e;
  spec.wrong_shape = "blk.0.post_norm.weight";
  EXPECT_NE(load_error(spec).find("blk.0.post_norm.weight"), std::string::npos);
}

TEST(Gemma4Weights, IgnoresSharedLayerKvForeignAndUnknownTensors) {
  TinyModelSpec spec;
  spec.shared_kv_tensors = true;
  spec.wrong_shape = "blk.5.attn_k.weight";  // shared layer: never read, so never checked
  spec.foreign = {"v.patch_embd.weight", "a.conv1d.0.weight", "mm.input_projection.weight",
                  "blk.0.attn_q.input_scale", "something.else"};
  EXPECT_EQ(load_error(spec), "");
}

TEST(Gemma4Weights, ANonFiniteScaleIsRejected) {
  TinyModelSpec spec;
  spec.scales = {{"blk.0.ffn_up.scale", std::nanf("")}};
  EXPECT_NE(load_error(spec).find("blk.0.ffn_up.scale"), std::string::npos);
}

TEST(Gemma4Weights, AShapeLikeE2bGetsNotesNamingEachDifference) {
  gguf::testing::TempDir dir;
  TinyModelSpec spec;
  const Gemma4Config e2b = *Gemma4Config::preset("e2b");
  Gemma4Config& c = spec.config;  // E2B's depth and layer pattern at tiny width
  c.n_layer = e2b.n_layer;
  c.is_swa = e2b.is_swa;
  c.n_layer_kv_shared = e2b.n_layer_kv_shared;
  c.n_ff.assign(c.n_layer, 128);
  auto m = write_and_load(spec, dir);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const auto& notes = (*m)->shape_notes();
  auto has = [&](const std::string& s) {
    for (const auto& n : notes) {
      if (n == s) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("n_embd is 64; e2b has 1536"));
  EXPECT_TRUE(has("n_vocab is 512; e2b has 262144"));
  EXPECT_FALSE(has("n_layer is 35; e2b has 35"));
}

TEST(Gemma4Weights, ATruncatedOrForeignFileIsABadModelFile) {
  gguf::testing::TempDir dir;
  const std::string path = dir.file("junk.gguf");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("GGUF but not really", f);
  std::fclose(f);
  auto m = runtime::Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kBadModelFile);
}

}  // namespace
}  // namespace gemmad::engine::testing

namespace gemmad::engine::testing {
namespace {

// A small in-test fuzz: corrupt bytes of a valid tiny model's header (metadata and tensor
// table) and run whatever still loads. Nothing may crash or read out of bounds (the
// sanitizer build runs this too); errors are fine.
TEST(Gemma4Weights, CorruptedHeadersNeverCrashTheLoaderOrTheForwardPass) {
  gguf::testing::TempDir dir;
  TinyModelSpec spec;
  const std::string path = dir.file("m.gguf");
  ASSERT_TRUE(write_tiny_model(spec, path).ok());
  std::vector<uint8_t> bytes;
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
  }
  auto clean = gguf::GgufFile::parse(bytes);
  ASSERT_TRUE(clean.ok());
  const size_t header = static_cast<size_t>((*clean)->data_offset());
  kernels::ThreadPool pool(2);
  uint64_t x = 88172645463325252ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int loaded = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<uint8_t> m = bytes;
    const int flips = 1 + static_cast<int>(next() % 3);
    for (int i = 0; i < flips; ++i) {
      m[next() % header] ^= static_cast<uint8_t>(1u << (next() % 8));
    }
    auto file = gguf::GgufFile::parse(m);
    if (!file.ok()) continue;
    auto model = runtime::Model::from_file(std::move(file).value());
    if (!model.ok()) {
      EXPECT_FALSE(model.error().message.empty());
      continue;
    }
    ++loaded;
    Gemma4Forward fwd((*model)->config(), (*model)->weights(), pool);
    runtime::KvCacheOptions o;
    o.n_ctx = 8;
    auto kv = (*model)->new_kv_pool(o);
    runtime::Batch b;
    for (int t = 0; t < 3; ++t)
      b.add(t, t, 0, true);
    ForwardOutput out;
    (void)fwd.forward(b, kv, out);
  }
  EXPECT_GT(loaded, 0);  // some corruptions (e.g. in values) still load and run
}

}  // namespace
}  // namespace gemmad::engine::testing
