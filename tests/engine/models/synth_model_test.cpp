// The engine on files written by engine/synth (`gemmactl model synth`): the tiny preset in f32
// and in the Q4_0 mix loads, agrees with the plain oracle, and extra shared-layer K/V tensors
// (--shared-kv) change nothing.
#include <gtest/gtest.h>

#include "model_test_util.h"
#include "naive_forward.h"
#include "synth/synth_model.h"

namespace gemmad::engine::testing {
namespace {

std::unique_ptr<runtime::Model> synth_tiny(const gguf::testing::TempDir& dir, synth::SynthQuant q,
                                           bool shared_kv, const std::string& name) {
  synth::SynthOptions o;
  o.preset = "tiny";
  o.quant = q;
  o.seed = 7;
  o.shared_kv = shared_kv;
  const std::string path = dir.file(name);
  auto r = synth::write_synthetic_model(o, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  auto m = runtime::Model::load(path);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  return m.ok() ? std::move(m).value() : nullptr;
}

runtime::KvCacheOptions f32_kv() {
  runtime::KvCacheOptions o;
  o.n_ctx = 128;
  o.type = runtime::KvType::kF32;
  return o;
}

TEST(SynthModel, TinyF32MatchesTheOracle) {
  gguf::testing::TempDir dir;
  auto m = synth_tiny(dir, synth::SynthQuant::kF32, false, "tiny.gguf");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->config().variant, "");
  kernels::ThreadPool pool(2);
  Gemma4Forward fwd(m->config(), m->weights(), pool);
  auto kv = m->new_kv_pool(f32_kv());
  const auto tokens = test_tokens(24, m->config().n_vocab, 21);
  const Logits got = run_batch(fwd, kv, tokens);
  const auto want = naive_logits(m->file(), m->config(), tokens);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0.0;
  for (size_t t = 0; t < got.size(); ++t) {
    for (size_t i = 0; i < got[t].size(); ++i) {
      worst = std::max(worst, std::abs(got[t][i] - want[t][i]));
    }
  }
  EXPECT_LT(worst, 1e-3);
}

TEST(SynthModel, SharedKvTensorsChangeNothingInEitherQuantisation) {
  for (synth::SynthQuant q : {synth::SynthQuant::kF32, synth::SynthQuant::kQ4_0}) {
    gguf::testing::TempDir dir;
    auto plain = synth_tiny(dir, q, false, "plain.gguf");
    auto extra = synth_tiny(dir, q, true, "extra.gguf");
    ASSERT_TRUE(plain && extra);
    EXPECT_EQ(plain->file().find_tensor("blk.5.attn_k.weight"), nullptr);
    EXPECT_NE(extra->file().find_tensor("blk.5.attn_k.weight"), nullptr);
    kernels::ThreadPool pool(2);
    Gemma4Forward fa(plain->config(), plain->weights(), pool);
    Gemma4Forward fb(extra->config(), extra->weights(), pool);
    auto kva = plain->new_kv_pool(runtime::KvCacheOptions{});
    auto kvb = extra->new_kv_pool(runtime::KvCacheOptions{});
    const auto tokens = test_tokens(20, plain->config().n_vocab, 22);
    const Logits a = run_batch(fa, kva, tokens);
    EXPECT_EQ(max_abs_diff(a, run_batch(fb, kvb, tokens)), 0.0);
    // And batch == step on the synthetic file too.
    auto kvc = plain->new_kv_pool(runtime::KvCacheOptions{});
    EXPECT_EQ(max_abs_diff(a, run_steps(fa, kvc, tokens)), 0.0);
  }
}

}  // namespace
}  // namespace gemmad::engine::testing
