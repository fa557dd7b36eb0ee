// Tests of the synthetic model writer: the tiny model read back through the real GGUF reader
// and config loader, tensor tables of every preset, types per quant mode, determinism.
#include "synth/synth_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "models/gemma4_config.h"
#include "quant/ggml_type.h"
#include "synth/synth_vocab.h"
#include "synth_test_util.h"

namespace gemmad::synth {
namespace {

using engine::Gemma4Config;
using quant::GgmlType;
using testing::read_all;
using testing::ScratchDir;

std::unique_ptr<gguf::GgufFile> write_and_open(const ScratchDir& dir, const SynthOptions& o,
                                               const std::string& name) {
  Result<SynthSummary> r = write_synthetic_model(o, dir.file(name));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return nullptr;
  Result<std::unique_ptr<gguf::GgufFile>> f = gguf::GgufFile::open(dir.file(name));
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(f).value() : nullptr;
}

std::vector<float> values_of(const gguf::TensorInfo& t) {
  std::vector<float> v(t.n_elements);
  quant::dequantize_row_ref(t.type, t.data, v.data(), static_cast<int64_t>(t.n_elements));
  return v;
}

TEST(SynthModel, TinyModelReadsBackAsTheTinyPreset) {
  ScratchDir dir;
  ASSERT_TRUE(dir.ok());
  auto f = write_and_open(dir, SynthOptions{}, "tiny.gguf");
  ASSERT_NE(f, nullptr);
  Result<Gemma4Config> c = Gemma4Config::from_gguf(*f);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const Gemma4Config want = *Gemma4Config::preset("tiny");
  EXPECT_TRUE(c->differences_from(want).empty());
  EXPECT_EQ(c->n_vocab, 512u);
  EXPECT_EQ(c->n_ff, want.n_ff);
  EXPECT_EQ(c->is_swa, want.is_swa);
  EXPECT_EQ(c->n_rot_full, want.n_rot_full);
  EXPECT_EQ(c->n_rot_swa, want.n_rot_swa);
  EXPECT_EQ(c->rope_freq_factors, want.rope_freq_factors);
  EXPECT_FLOAT_EQ(c->final_logit_softcap, 30.0f);
  EXPECT_FLOAT_EQ(c->rope_base_full, 1e6f);
  EXPECT_FLOAT_EQ(c->rope_base_swa, 1e4f);
}

TEST(SynthModel, WritesEveryMetadataKeyOfTheSpec) {
  ScratchDir dir;
  auto f = write_and_open(dir, SynthOptions{}, "tiny.gguf");
  ASSERT_NE(f, nullptr);
  // docs/GEMMA4.md §3.2 and §5.2.
  for (const char* key : {"general.architecture",
                          "general.type",
                          "general.name",
                          "general.file_type",
                          "general.quantization_version",
                          "general.alignment",
                          "gemma4.context_length",
                          "gemma4.embedding_length",
                          "gemma4.block_count",
                          "gemma4.feed_forward_length",
                          "gemma4.attention.head_count",
                          "gemma4.attention.head_count_kv",
                          "gemma4.attention.key_length",
                          "gemma4.attention.value_length",
                          "gemma4.attention.key_length_swa",
                          "gemma4.attention.value_length_swa",
                          "gemma4.attention.layer_norm_rms_epsilon",
                          "gemma4.attention.sliding_window",
                          "gemma4.attention.sliding_window_pattern",
                          "gemma4.attention.shared_kv_layers",
                          "gemma4.embedding_length_per_layer_input",
                          "gemma4.rope.freq_base",
                          "gemma4.rope.freq_base_swa",
                          "gemma4.rope.dimension_count",
                          "gemma4.rope.dimension_count_swa",
                          "gemma4.final_logit_softcapping",
                          "tokenizer.ggml.model",
                          "tokenizer.ggml.tokens",
                          "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type",
                          "tokenizer.ggml.merges",
                          "tokenizer.ggml.bos_token_id",
                          "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id",
                          "tokenizer.ggml.padding_token_id",
                          "tokenizer.ggml.add_bos_token",
                          "tokenizer.ggml.add_space_prefix",
                          "tokenizer.chat_template"}) {
    EXPECT_NE(f->find(key), nullptr) << key;
  }
  EXPECT_EQ(*f->get_string("general.architecture"), "gemma4");
  EXPECT_EQ(*f->get_string("general.type"), "model");
  EXPECT_EQ(*f->get_string("general.name"), "gemmad-synthetic-tiny-f32");
  EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(*f->get_uint("general.alignment"), 32u);
  EXPECT_EQ(*f->get_uint("general.file_type"), 0u);
  // Tiny FFN widths differ per layer: an i32 array (§3.2), not a scalar.
  const gguf::KeyValue* ff = f->find("gemma4.feed_forward_length");
  ASSERT_NE(ff, nullptr);
  EXPECT_EQ(ff->type, gguf::ValueType::kArray);
  EXPECT_EQ(ff->array_type, gguf::ValueType::kI32);
  const gguf::KeyValue* pat = f->find("gemma4.attention.sliding_window_pattern");
  ASSERT_NE(pat, nullptr);
  EXPECT_EQ(pat->array_type, gguf::ValueType::kBool);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.bos_token_id"), 2u);
  EXPECT_EQ(*f->get_uint("tokenizer.ggml.eos_token_id"), 106u);
}

TEST(SynthModel, FfnWidthIsAScalarWhenUniformAndAnArrayOtherwise) {
  // docs/GEMMA4.md §3.2: u32 for E4B (10240 everywhere), i32[35] for E2B (6144 x 15, 12288 x 20).
  ScratchDir dir;
  for (const char* preset : {"e2b", "e4b"}) {
    const Gemma4Config c = *Gemma4Config::preset(preset);
    gguf::GgufWriter w;
    write_model_keys(w, c, "keys-only", SynthQuant::kQ4_0);
    const std::string path = dir.file(std::string(preset) + ".gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto f = gguf::GgufFile::open(path);
    ASSERT_TRUE(f.ok());
    const gguf::KeyValue* ff = (*f)->find("gemma4.feed_forward_length");
    ASSERT_NE(ff, nullptr);
    Result<std::vector<int64_t>> widths = (*f)->get_int_array("gemma4.feed_forward_length", true);
    ASSERT_TRUE(widths.ok());
    if (c.variant == "e4b") {
      EXPECT_EQ(ff->type, gguf::ValueType::kU32);
      EXPECT_EQ(*widths, std::vector<int64_t>{10240});
    } else {
      EXPECT_EQ(ff->type, gguf::ValueType::kArray);
      EXPECT_EQ(ff->array_type, gguf::ValueType::kI32);
      ASSERT_EQ(widths->size(), 35u);
      EXPECT_EQ((*widths)[14], 6144);
      EXPECT_EQ((*widths)[15], 12288);
    }
    EXPECT_EQ(*(*f)->get_uint("gemma4.attention.shared_kv_layers"), c.n_layer_kv_shared);
    EXPECT_EQ(*(*f)->get_uint("gemma4.rope.dimension_count"), 512u);
  }
}

size_t count_with(const std::vector<TensorPlan>& plan, const std::string& part) {
  size_t n = 0;
  for (const TensorPlan& t : plan)
    n += t.name.find(part) != std::string::npos;
  return n;
}

TEST(SynthModel, TensorCountsMatchTheSpecForEveryPreset) {
  // docs/GEMMA4.md §3.3: 6 globals + 14 per layer + 3 per layer that has K/V tensors.
  struct Case {
    const char* preset;
    size_t without_shared, with_shared;
  };
  for (const Case& k : {Case{"tiny", 102, 108}, Case{"e2b", 541, 601}, Case{"e4b", 666, 720}}) {
    const Gemma4Config c = *Gemma4Config::preset(k.preset);
    EXPECT_EQ(plan_tensors(c, SynthQuant::kQ4_0, false).size(), k.without_shared) << k.preset;
    EXPECT_EQ(plan_tensors(c, SynthQuant::kQ4_0, true).size(), k.with_shared) << k.preset;
    const auto plan = plan_tensors(c, SynthQuant::kF32, false);
    EXPECT_EQ(count_with(plan, "attn_k.weight"), c.first_shared_layer()) << k.preset;
    EXPECT_EQ(count_with(plan, "attn_v.weight"), c.first_shared_layer()) << k.preset;
  }
}

TEST(SynthModel, SharedLayersHaveNoKvTensorsUnlessAsked) {
  const Gemma4Config c = *Gemma4Config::preset("e2b");
  std::set<std::string> names;
  for (const TensorPlan& t : plan_tensors(c, SynthQuant::kQ4_0, false))
    names.insert(t.name);
  EXPECT_TRUE(names.count("blk.14.attn_k.weight"));
  EXPECT_FALSE(names.count("blk.15.attn_k.weight"));
  EXPECT_FALSE(names.count("blk.15.attn_v.weight"));
  EXPECT_FALSE(names.count("blk.34.attn_k_norm.weight"));
  names.clear();
  for (const TensorPlan& t : plan_tensors(c, SynthQuant::kQ4_0, true))
    names.insert(t.name);
  EXPECT_TRUE(names.count("blk.15.attn_k.weight"));
  EXPECT_TRUE(names.count("blk.34.attn_k_norm.weight"));
}

TEST(SynthModel, E2bShapesAndTypesFollowTheOfficialQ4_0Files) {
  const Gemma4Config c = *Gemma4Config::preset("e2b");
  std::map<std::string, const TensorPlan*> by_name;
  const auto plan = plan_tensors(c, SynthQuant::kQ4_0, false);
  for (const TensorPlan& t : plan)
    by_name[t.name] = &t;
  auto expect = [&](const std::string& name, GgmlType type, std::vector<uint64_t> ne) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name[name]->type, type) << name;
    EXPECT_EQ(by_name[name]->ne, ne) << name;
  };
  // docs/GEMMA4.md §3.3 shapes (E2B column) and §7.1 types.
  expect("token_embd.weight", GgmlType::kQ6_K, {1536, 262144});
  expect("per_layer_token_embd.weight", GgmlType::kQ6_K, {8960, 262144});
  expect("per_layer_model_proj.weight", GgmlType::kF16, {1536, 8960});
  expect("per_layer_proj_norm.weight", GgmlType::kF32, {256});
  expect("output_norm.weight", GgmlType::kF32, {1536});
  expect("rope_freqs.weight", GgmlType::kF32, {256});
  expect("blk.0.attn_q.weight", GgmlType::kQ4_0, {1536, 2048});
  expect("blk.0.attn_k.weight", GgmlType::kQ4_0, {1536, 256});
  expect("blk.4.attn_q.weight", GgmlType::kQ4_0, {1536, 4096});
  expect("blk.4.attn_k.weight", GgmlType::kQ4_0, {1536, 512});
  expect("blk.4.attn_q_norm.weight", GgmlType::kF32, {512});
  expect("blk.4.attn_output.weight", GgmlType::kQ4_0, {4096, 1536});
  expect("blk.14.ffn_gate.weight", GgmlType::kQ4_0, {1536, 6144});
  expect("blk.15.ffn_up.weight", GgmlType::kQ4_0, {1536, 12288});
  expect("blk.15.ffn_down.weight", GgmlType::kQ4_0, {12288, 1536});
  expect("blk.20.inp_gate.weight", GgmlType::kQ4_0, {1536, 256});
  expect("blk.20.proj.weight", GgmlType::kQ4_0, {256, 1536});
  expect("blk.20.post_norm.weight", GgmlType::kF32, {1536});
  expect("blk.34.layer_output_scale.weight", GgmlType::kF32, {1});
  // rope_freqs: 64 rotated pairs then 192 x 1e30 (§1.4).
  const auto& rf = by_name["rope_freqs.weight"]->values.constants;
  ASSERT_EQ(rf.size(), 256u);
  EXPECT_EQ(rf[63], 1.0f);
  EXPECT_EQ(rf[64], 1e30f);
  EXPECT_EQ(rf[255], 1e30f);
}

TEST(SynthModel, F32ModeWritesEveryTensorAsF32) {
  ScratchDir dir;
  auto f = write_and_open(dir, SynthOptions{}, "tiny.gguf");
  ASSERT_NE(f, nullptr);
  for (const gguf::TensorInfo& t : f->tensors())
    EXPECT_EQ(t.type, GgmlType::kF32) << t.name;
}

TEST(SynthModel, Q4_0ModeUsesTheOfficialTypesWithFallbacksForShortRows) {
  ScratchDir dir;
  SynthOptions o;
  o.quant = SynthQuant::kQ4_0;
  auto f = write_and_open(dir, o, "tiny.gguf");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->get_uint("general.file_type"), 2u);
  for (const gguf::TensorInfo& t : f->tensors()) {
    const std::string& n = t.name;
    GgmlType want = GgmlType::kQ4_0;
    if (t.n_dims == 1) {
      want = GgmlType::kF32;  // norms, rope_freqs, layer_output_scale
    } else if (n == "token_embd.weight" || n == "per_layer_token_embd.weight") {
      want = GgmlType::kQ8_0;  // rows of 64 / 96: too short for Q6_K's 256
    } else if (n == "per_layer_model_proj.weight") {
      want = GgmlType::kF16;  // never quantised (§1.8)
    } else if (n.ends_with(".proj.weight")) {
      want = GgmlType::kF16;  // rows of 16: too short for Q4_0's 32
    }
    EXPECT_EQ(t.type, want) << n;
  }
}

TEST(SynthModel, ValuesHaveTheDocumentedRanges) {
  ScratchDir dir;
  auto f = write_and_open(dir, SynthOptions{}, "tiny.gguf");
  ASSERT_NE(f, nullptr);
  for (const gguf::TensorInfo& t : f->tensors()) {
    const std::vector<float> v = values_of(t);
    if (t.name.ends_with("_norm.weight") && t.name.find("attn_") == std::string::npos &&
        t.name != "output_norm.weight") {
      for (float x : v)
        ASSERT_TRUE(x >= 0.5f && x <= 1.5f) << t.name << " " << x;
    } else if (t.name.ends_with("layer_output_scale.weight")) {
      ASSERT_EQ(v.size(), 1u);
      EXPECT_TRUE(v[0] >= 0.5f && v[0] <= 1.0f) << t.name << " " << v[0];
    } else if (t.name.ends_with("attn_q.weight") || t.name.ends_with("ffn_down.weight")) {
      // Uniform with std 1/sqrt(n_in): the sample std of thousands of values is within 10 %.
      double s2 = 0;
      for (float x : v)
        s2 += double(x) * x;
      const double sd = std::sqrt(s2 / v.size());
      EXPECT_NEAR(sd * std::sqrt(double(t.ne[0])), 1.0, 0.1) << t.name;
    }
  }
  const std::vector<float> rf = values_of(*f->find_tensor("rope_freqs.weight"));
  ASSERT_EQ(rf.size(), 32u);  // tiny: n_rot_full 64 -> 32 pairs, a quarter rotate
  for (size_t j = 0; j < rf.size(); ++j)
    EXPECT_EQ(rf[j], j < 8 ? 1.0f : 1e30f) << j;
}

TEST(SynthModel, SameSeedGivesIdenticalBytesAndOtherSeedsDiffer) {
  ScratchDir dir;
  SynthOptions o;
  o.quant = SynthQuant::kQ4_0;
  o.seed = 7;
  ASSERT_TRUE(write_synthetic_model(o, dir.file("a.gguf")).ok());
  ASSERT_TRUE(write_synthetic_model(o, dir.file("b.gguf")).ok());
  o.seed = 8;
  ASSERT_TRUE(write_synthetic_model(o, dir.file("c.gguf")).ok());
  const auto a = read_all(dir.file("a.gguf"));
  const auto b = read_all(dir.file("b.gguf"));
  const auto c = read_all(dir.file("c.gguf"));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());  // same layout, different values
  EXPECT_NE(a, c);
}

TEST(SynthModel, SharedKvTensorsDifferFromTheirSourceLayers) {
  ScratchDir dir;
  SynthOptions o;
  o.shared_kv = true;
  auto f = write_and_open(dir, o, "skv.gguf");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tensors().size(), 108u);
  // Layer 4 (sliding, shared) reads layer 2's cache; its own K weights must not equal them,
  // so an engine that wrongly used them would produce different logits.
  const gguf::TensorInfo* own = f->find_tensor("blk.4.attn_k.weight");
  const gguf::TensorInfo* src = f->find_tensor("blk.2.attn_k.weight");
  ASSERT_NE(own, nullptr);
  ASSERT_NE(src, nullptr);
  ASSERT_EQ(own->n_bytes, src->n_bytes);
  EXPECT_NE(std::memcmp(own->data, src->data, own->n_bytes), 0);
}

TEST(SynthModel, VocabularyFileSetsTheTokenizerAndVocabSize) {
  ScratchDir dir;
  // A vocabulary-only GGUF of 600 tokens (built-in layout), as `model import-vocab` makes.
  gguf::GgufWriter vw;
  Result<SynthVocab> v = build_builtin_vocab(600);
  ASSERT_TRUE(v.ok());
  write_vocab_keys(vw, *v);
  vw.set_string("tokenizer.ggml.pre", "marker-from-the-vocab-file");
  ASSERT_TRUE(vw.write(dir.file("vocab.gguf")).ok());
  SynthOptions o;
  o.vocab_path = dir.file("vocab.gguf");
  auto f = write_and_open(dir, o, "m.gguf");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], 600u);
  EXPECT_EQ(f->find_tensor("per_layer_token_embd.weight")->ne[1], 600u);
  EXPECT_EQ(*f->get_string("tokenizer.ggml.pre"), "marker-from-the-vocab-file");
  Result<std::vector<std::string_view>> toks = f->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(toks.ok());
  ASSERT_EQ(toks->size(), 600u);
  for (size_t i = 0; i < 600; ++i)
    EXPECT_EQ((*toks)[i], v->tokens[i]) << i;
  Result<Gemma4Config> c = Gemma4Config::from_gguf(*f);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->n_vocab, 600u);
}

TEST(SynthModel, RejectsAnUnknownPresetAndAVocabularyWithoutTokens) {
  ScratchDir dir;
  SynthOptions o;
  o.preset = "e3b";
  Result<SynthSummary> r = write_synthetic_model(o, dir.file("x.gguf"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("e3b"), std::string::npos);
  gguf::GgufWriter vw;
  vw.set_string("tokenizer.ggml.model", "gemma4");
  ASSERT_TRUE(vw.write(dir.file("novocab.gguf")).ok());
  o.preset = "tiny";
  o.vocab_path = dir.file("novocab.gguf");
  r = write_synthetic_model(o, dir.file("y.gguf"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("tokenizer.ggml.tokens"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::synth
