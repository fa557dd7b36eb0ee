// The forward pass with quantized KV caches (runtime/kv_cache_type.h): batch and step stay
// bit-identical for every preset, quantized caches stay near the f32 cache, a file's static
// scales turn q8 layers into static int8, and bad inputs are clear errors.
#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"

namespace gemmad::engine::testing {
namespace {

using runtime::KvCacheOptions;
using runtime::KvType;
using runtime::KvTypes;

KvCacheOptions opts(KvTypes type, uint32_t n_ctx = 256) {
  KvCacheOptions o;
  o.n_ctx = n_ctx;
  o.type = type;
  return o;
}

double max_abs(const Logits& l) {
  double m = 0.0;
  for (const auto& r : l) {
    for (float z : r)
      m = std::max(m, double(std::abs(z)));
  }
  return m;
}

class KvQuantForwardTest : public ::testing::Test {
 protected:
  std::unique_ptr<runtime::Model> load(const TinyModelSpec& spec) {
    EXPECT_TRUE(dir_.ok());
    return load_tiny(spec, dir_, "tiny-" + std::to_string(n_models_++) + ".gguf");
  }
  gguf::testing::TempDir dir_;
  int n_models_ = 0;
  kernels::ThreadPool pool_{2};
};

const KvTypes kPresets[] = {KvTypes(KvType::kQ8), KvTypes(KvType::kQ4),
                            KvTypes(KvType::kQ8, KvType::kQ4), KvTypes(KvType::kQ4, KvType::kF16)};

TEST_F(KvQuantForwardTest, BatchAndStepAreBitIdenticalForEveryPreset) {
  auto m = load(TinyModelSpec{});
  ASSERT_NE(m, nullptr);
  // 300 positions: past a 256-position chunk and a default pass, sliding rings wrapped.
  const auto tokens = test_tokens(300, m->config().n_vocab, 21);
  Gemma4Forward fwd(m->config(), m->weights(), pool_);
  for (KvTypes t : kPresets) {
    SCOPED_TRACE(runtime::kv_types_name(t));
    auto kv_a = m->new_kv_pool(opts(t, 512));
    auto kv_b = m->new_kv_pool(opts(t, 512));
    EXPECT_EQ(max_abs_diff(run_batch(fwd, kv_a, tokens), run_steps(fwd, kv_b, tokens)), 0.0);
  }
}

TEST_F(KvQuantForwardTest, QuantizedCachesStayNearTheF32Cache) {
  auto m = load(TinyModelSpec{});
  ASSERT_NE(m, nullptr);
  const auto tokens = test_tokens(40, m->config().n_vocab, 22);
  Gemma4Forward fwd(m->config(), m->weights(), pool_);
  auto kv32 = m->new_kv_pool(opts(KvType::kF32));
  const Logits want = run_batch(fwd, kv32, tokens);
  const double mag = max_abs(want);
  double diff_q8 = 0.0, diff_q4 = 0.0;
  for (KvType t : {KvType::kQ8, KvType::kQ4}) {
    auto kv = m->new_kv_pool(opts(t));
    const double d = max_abs_diff(run_batch(fwd, kv, tokens), want);
    (t == KvType::kQ8 ? diff_q8 : diff_q4) = d;
  }
  // Really quantized (the values change) and worse with fewer bits; a broken layout would be
  // off by O(mag). q8 rounds to 1/254 of a block's range, q4 to 1/14; peaky attention of the
  // random tiny weights amplifies it (see F16CacheStaysCloseToF32Cache).
  EXPECT_GT(diff_q8, 0.0);
  EXPECT_GT(diff_q4, diff_q8);
  EXPECT_LT(diff_q8, 0.05 * mag);
  EXPECT_LT(diff_q4, 0.5 * mag);
}

TEST_F(KvQuantForwardTest, StaticScalesMakeQ8LayersStaticInt8) {
  TinyModelSpec spec;
  const uint32_t L = spec.config.n_layer;
  std::vector<float> ks(L, 0.05f), vs(L, 0.04f);
  ks[1] = 0.0f;  // uncalibrated: layer 1 keeps dynamic scales
  spec.f32_arrays["gemma4.attention.k_cache_scale"] = ks;
  spec.f32_arrays["gemma4.attention.v_cache_scale"] = vs;
  auto m = load(spec);
  ASSERT_NE(m, nullptr);
  auto kv = m->new_kv_pool(opts(KvTypes(KvType::kQ8, KvType::kQ4)));
  const runtime::SequenceKv& s = kv.seq(0);
  for (size_t l = 0; l < s.n_layers(); ++l) {
    const runtime::KvLayerFormat& f = s.format(l);
    if (!s.layer(l).sliding) {
      EXPECT_EQ(f.elem, ops::KvElem::kQ4) << l;  // static scales are for int8 only
    } else if (l == 1) {
      EXPECT_EQ(f.elem, ops::KvElem::kQ8) << l;
    } else {
      EXPECT_EQ(f.elem, ops::KvElem::kQ8Static) << l;
      EXPECT_EQ(f.k_scale, 0.05f);
      EXPECT_EQ(f.v_scale, 0.04f);
    }
  }
  // Static int8 stores one byte per element.
  EXPECT_EQ(ops::kv_row_bytes(ops::KvElem::kQ8Static, 64), 64);
  const auto tokens = test_tokens(40, m->config().n_vocab, 23);
  Gemma4Forward fwd(m->config(), m->weights(), pool_);
  auto kv_b = m->new_kv_pool(opts(KvTypes(KvType::kQ8, KvType::kQ4)));
  const Logits batch = run_batch(fwd, kv, tokens);
  EXPECT_EQ(max_abs_diff(batch, run_steps(fwd, kv_b, tokens)), 0.0);
  auto kv32 = m->new_kv_pool(opts(KvType::kF32));
  EXPECT_LT(max_abs_diff(batch, run_batch(fwd, kv32, tokens)), 0.5 * max_abs(batch));
}

TEST_F(KvQuantForwardTest, BadStaticScalesAreRejectedAtLoad) {
  TinyModelSpec spec;
  spec.f32_arrays["gemma4.attention.k_cache_scale"] = {0.1f, 0.1f};  // not one per layer
  const std::string path = dir_.file("bad-scales.gguf");
  ASSERT_TRUE(write_tiny_model(spec, path).ok());
  auto m = runtime::Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("gemma4.attention.k_cache_scale has 2 entries"),
            std::string::npos)
      << m.error().message;
  spec.f32_arrays["gemma4.attention.k_cache_scale"] =
      std::vector<float>(spec.config.n_layer, -1.0f);
  ASSERT_TRUE(write_tiny_model(spec, path).ok());
  auto m2 = runtime::Model::load(path);
  ASSERT_FALSE(m2.ok());
  EXPECT_NE(m2.error().message.find("k_cache_scale[0] is -1"), std::string::npos)
      << m2.error().message;
}

TEST(KvTypePresets, ParseAndName) {
  EXPECT_EQ(*runtime::parse_kv_types("mobile"), KvTypes(KvType::kQ8, KvType::kQ4));
  EXPECT_EQ(*runtime::parse_kv_types("full:q4,sliding:q8"), KvTypes(KvType::kQ8, KvType::kQ4));
  EXPECT_EQ(*runtime::parse_kv_types("q4"), KvTypes(KvType::kQ4));
  EXPECT_EQ(runtime::kv_types_name(KvTypes(KvType::kQ8, KvType::kQ4)), "sliding:q8,full:q4");
  EXPECT_EQ(runtime::kv_types_name(KvTypes(KvType::kF32)), "f32");
  auto bad = runtime::parse_kv_types("sliding:q8,full:q5");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown type 'q5'"), std::string::npos)
      << bad.error().message;
}

}  // namespace
}  // namespace gemmad::engine::testing
