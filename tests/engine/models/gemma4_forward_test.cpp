// The Gemma 4 forward pass on tiny synthetic models: against a plain double-precision oracle,
// and batch/step, multi-sequence, window, pass-splitting and shortcut invariants.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "model_test_util.h"
#include "naive_forward.h"

namespace gemmad::engine::testing {
namespace {

using runtime::KvCacheOptions;
using runtime::KvType;

KvCacheOptions kv_opts(KvType type, uint32_t n_seq = 1) {
  KvCacheOptions o;
  o.n_ctx = 256;
  o.type = type;
  o.n_seq = n_seq;
  return o;
}

class Gemma4ForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    model_ = load_tiny(spec_, dir_);
    ASSERT_NE(model_, nullptr);
  }
  std::unique_ptr<Gemma4Forward> make_forward(ForwardOptions o = {}) {
    return std::make_unique<Gemma4Forward>(model_->config(), model_->weights(), pool_, o);
  }

  TinyModelSpec spec_;
  gguf::testing::TempDir dir_;
  std::unique_ptr<runtime::Model> model_;
  kernels::ThreadPool pool_{2};
};

// Longer than the tiny window (16), so sliding layers must drop old keys.
constexpr int kPromptLen = 40;

TEST_F(Gemma4ForwardTest, MatchesThePlainOracleAtEveryPosition) {
  const auto tokens = test_tokens(kPromptLen, model_->config().n_vocab);
  const auto want = naive_logits(model_->file(), model_->config(), tokens);
  auto kv = model_->new_kv_pool(kv_opts(KvType::kF32));
  auto fwd = make_forward();
  const Logits got = run_batch(*fwd, kv, tokens);
  ASSERT_EQ(got.size(), want.size());
  double worst = 0.0;
  for (size_t t = 0; t < got.size(); ++t) {
    for (size_t i = 0; i < got[t].size(); ++i)
      worst = std::max(worst, std::abs(got[t][i] - want[t][i]));
  }
  // f32 activations against double: logits are O(1); 1e-3 is ~1000x the f32 epsilon.
  EXPECT_LT(worst, 1e-3);
}

TEST_F(Gemma4ForwardTest, BatchAndStepGiveTheSameLogits) {
  const auto tokens = test_tokens(kPromptLen, model_->config().n_vocab, 1);
  for (KvType type : {KvType::kF32, KvType::kF16}) {
    auto kv_a = model_->new_kv_pool(kv_opts(type));
    auto kv_b = model_->new_kv_pool(kv_opts(type));
    auto fwd = make_forward();
    const Logits batch = run_batch(*fwd, kv_a, tokens);
    const Logits step = run_steps(*fwd, kv_b, tokens);
    ASSERT_EQ(batch.size(), tokens.size());
    // Same values read in the same order, and a token's matmul output does not depend on the
    // other rows of the batch (kernels/matmul.h): bit-identical.
    EXPECT_EQ(max_abs_diff(batch, step), 0.0) << "kv type " << static_cast<int>(type);
    EXPECT_EQ(kv_a.seq(0).n_pos(), kPromptLen);
    EXPECT_EQ(kv_b.seq(0).n_pos(), kPromptLen);
  }
}

// Past a KV chunk (256 positions) of the full layers and a default pass (256 rows), with the
// sliding rings wrapped many times.
TEST_F(Gemma4ForwardTest, LongPromptsMatchStepByStepExactly) {
  const auto tokens = test_tokens(300, model_->config().n_vocab, 14);
  KvCacheOptions o = kv_opts(KvType::kF16);
  o.n_ctx = 512;
  auto kv_a = model_->new_kv_pool(o);
  auto kv_b = model_->new_kv_pool(o);
  auto fwd = make_forward();
  EXPECT_EQ(max_abs_diff(run_batch(*fwd, kv_a, tokens), run_steps(*fwd, kv_b, tokens)), 0.0);
}

TEST_F(Gemma4ForwardTest, F16CacheStaysCloseToF32Cache) {
  const auto tokens = test_tokens(kPromptLen, model_->config().n_vocab, 2);
  auto kv16 = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto kv32 = model_->new_kv_pool(kv_opts(KvType::kF32));
  auto fwd = make_forward();
  const Logits a = run_batch(*fwd, kv16, tokens);
  const Logits b = run_batch(*fwd, kv32, tokens);
  const double diff = max_abs_diff(a, b);
  EXPECT_GT(diff, 0.0);  // the f16 path really rounds
  double mag = 0.0;
  for (const auto& r : b) {
    for (float z : r)
      mag = std::max(mag, double(std::abs(z)));
  }
  // Random tiny weights give peaky attention (scale 1.0, normalised q and k), which
  // amplifies the 2^-11 relative rounding of f16 K/V; a broken f16 path is off by O(mag).
  EXPECT_LT(diff, 0.03 * mag);
}

TEST_F(Gemma4ForwardTest, SplittingABatchIntoPassesChangesNothing) {
  const auto tokens = test_tokens(kPromptLen, model_->config().n_vocab, 3);
  auto kv_a = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto kv_b = model_->new_kv_pool(kv_opts(KvType::kF16));
  ForwardOptions small;
  small.max_rows_per_pass = 7;  // passes straddle the 16-position window
  auto whole = make_forward();
  auto split = make_forward(small);
  EXPECT_LT(max_abs_diff(run_batch(*whole, kv_a, tokens), run_batch(*split, kv_b, tokens)), 1e-5);
}

TEST_F(Gemma4ForwardTest, TwoSequencesInOneBatchMatchSeparateRuns) {
  const uint32_t nv = model_->config().n_vocab;
  const auto prefix_a = test_tokens(10, nv, 4), prefix_b = test_tokens(23, nv, 5);
  const auto next_a = test_tokens(3, nv, 6), next_b = test_tokens(5, nv, 7);
  auto fwd = make_forward();

  // Separately, each in its own single-slot pool.
  auto kv_a = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto kv_b = model_->new_kv_pool(kv_opts(KvType::kF16));
  run_batch(*fwd, kv_a, prefix_a);
  run_batch(*fwd, kv_b, prefix_b);
  const Logits want_a = run_batch(*fwd, kv_a, next_a);
  const Logits want_b = run_batch(*fwd, kv_b, next_b);

  // Together: prefixes in one batch, then the continuations interleaved in one batch.
  auto kv = model_->new_kv_pool(kv_opts(KvType::kF16, 2));
  runtime::Batch b;
  for (size_t i = 0; i < prefix_b.size(); ++i) {
    if (i < prefix_a.size()) b.add(prefix_a[i], static_cast<int32_t>(i), 0, false);
    b.add(prefix_b[i], static_cast<int32_t>(i), 1, false);
  }
  ForwardOutput out;
  ASSERT_TRUE(fwd->forward(b, kv, out).ok());
  EXPECT_TRUE(out.rows.empty());
  b.clear();
  for (size_t i = 0; i < next_b.size(); ++i) {
    if (i < next_a.size()) b.add(next_a[i], 10 + static_cast<int32_t>(i), 0, true);
    b.add(next_b[i], 23 + static_cast<int32_t>(i), 1, true);
  }
  ASSERT_TRUE(fwd->forward(b, kv, out).ok());
  ASSERT_EQ(out.rows.size(), next_a.size() + next_b.size());
  size_t ia = 0, ib = 0;
  for (size_t i = 0; i < out.rows.size(); ++i) {
    const std::vector<float> row(out.row_logits(i), out.row_logits(i) + out.n_vocab);
    const bool is_a = b.rows[out.rows[i]].seq == 0;
    const std::vector<float>& want = is_a ? want_a[ia++] : want_b[ib++];
    EXPECT_LT(max_abs_diff(row, want), 1e-5) << "logits row " << i;
  }
  EXPECT_EQ(kv.seq(0).n_pos(), 13);
  EXPECT_EQ(kv.seq(1).n_pos(), 28);
}

TEST_F(Gemma4ForwardTest, PrefillShortcutKeepsTheLogitsAndTheCache) {
  const uint32_t nv = model_->config().n_vocab;
  const auto prompt = test_tokens(30, nv, 8);
  const auto next = test_tokens(4, nv, 9);
  ForwardOptions off;
  off.prefill_shortcut = false;
  auto with = make_forward();
  auto without = make_forward(off);
  std::set<int> layers_seen_last_row_only;
  with->set_tap([&](const runtime::TapInfo& t) {
    if (t.name == "attn_norm" && t.n_rows == 1) layers_seen_last_row_only.insert(t.layer);
  });
  auto kv_a = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto kv_b = model_->new_kv_pool(kv_opts(KvType::kF16));
  runtime::Batch b;
  for (size_t i = 0; i < prompt.size(); ++i) {
    b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
  }
  ForwardOutput out_a, out_b;
  ASSERT_TRUE(with->forward(b, kv_a, out_a).ok());
  ASSERT_TRUE(without->forward(b, kv_b, out_b).ok());
  ASSERT_EQ(out_a.rows, std::vector<int32_t>{29});
  EXPECT_LT(max_abs_diff(out_a.logits, out_b.logits), 1e-5);
  // Shared layers (4, 5 in tiny) ran for the logits row only.
  EXPECT_EQ(layers_seen_last_row_only, (std::set<int>{4, 5}));
  with->set_tap(nullptr);
  EXPECT_LT(max_abs_diff(run_steps(*with, kv_a, next), run_steps(*without, kv_b, next)), 1e-5);
}

TEST_F(Gemma4ForwardTest, APrefillWithoutLogitsRowsStillFillsTheCache) {
  const auto prompt = test_tokens(20, model_->config().n_vocab, 10);
  auto kv = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto fwd = make_forward();
  runtime::Batch b;
  for (size_t i = 0; i < prompt.size(); ++i)
    b.add(prompt[i], static_cast<int32_t>(i), 0, false);
  ForwardOutput out;
  ASSERT_TRUE(fwd->forward(b, kv, out).ok());
  EXPECT_TRUE(out.logits.empty());
  EXPECT_EQ(kv.seq(0).n_pos(), 20);
  EXPECT_GT(kv.bytes_used(), 0u);
}

TEST_F(Gemma4ForwardTest, RejectsABadBatchWithoutTouchingTheCache) {
  auto kv = model_->new_kv_pool(kv_opts(KvType::kF16));
  auto fwd = make_forward();
  run_batch(*fwd, kv, {1, 2, 3});
  ForwardOutput out;
  runtime::Batch gap;  // position 4 skips 3
  gap.add(5, 4, 0, true);
  Status st = fwd->forward(gap, kv, out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("expected 3"), std::string::npos) << st.error().message;
  runtime::Batch bad_token;
  bad_token.add(static_cast<int32_t>(model_->config().n_vocab), 3, 0, true);
  st = fwd->forward(bad_token, kv, out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("token id"), std::string::npos);
  runtime::Batch bad_seq;
  bad_seq.add(1, 0, 3, true);
  EXPECT_FALSE(fwd->forward(bad_seq, kv, out).ok());
  EXPECT_EQ(kv.seq(0).n_pos(), 3);
}

TEST_F(Gemma4ForwardTest, StopsAtTheContextLimit) {
  KvCacheOptions o = kv_opts(KvType::kF16);
  o.n_ctx = 8;
  auto kv = model_->new_kv_pool(o);
  auto fwd = make_forward();
  runtime::Batch b;
  for (int i = 0; i < 9; ++i)
    b.add(1, i, 0, false);
  ForwardOutput out;
  Status st = fwd->forward(b, kv, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(kv.seq(0).n_pos(), 0);
}

TEST_F(Gemma4ForwardTest, TapsNameEveryStepOfALayer) {
  std::set<std::string> names;
  auto fwd = make_forward();
  fwd->set_tap([&](const runtime::TapInfo& t) {
    if (t.layer == 0) names.insert(std::string(t.name));
    EXPECT_EQ(t.pos[0], 0);
  });
  auto kv = model_->new_kv_pool(kv_opts(KvType::kF16));
  run_batch(*fwd, kv, {7});
  for (const char* n : {"attn_norm",
                        "q",
                        "q_norm",
                        "q_rope",
                        "k",
                        "v",
                        "k_norm",
                        "k_rope",
                        "v_norm",
                        "kqv_out",
                        "attn_out",
                        "attn_post_norm",
                        "attn_resid",
                        "ffn_norm",
                        "ffn_gate",
                        "ffn_up",
                        "ffn_geglu",
                        "ffn_out",
                        "ffn_post_norm",
                        "ffn_resid",
                        "ple_gate",
                        "ple_proj_out",
                        "ple_post_norm",
                        "ple_resid",
                        "l_out"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
}

// Same seed, but shared layers carry (ignored) K/V tensors with different contents.
TEST(Gemma4ForwardSharedKv, TensorsOnSharedLayersAreIgnored) {
  gguf::testing::TempDir dir;
  TinyModelSpec plain;
  TinyModelSpec extra;
  extra.shared_kv_tensors = true;
  auto a = load_tiny(plain, dir, "plain.gguf");
  auto b = load_tiny(extra, dir, "extra.gguf");
  ASSERT_TRUE(a && b);
  EXPECT_NE(b->file().find_tensor("blk.5.attn_k.weight"), nullptr);
  kernels::ThreadPool pool(2);
  Gemma4Forward fa(a->config(), a->weights(), pool), fb(b->config(), b->weights(), pool);
  auto kva = a->new_kv_pool(kv_opts(KvType::kF16));
  auto kvb = b->new_kv_pool(kv_opts(KvType::kF16));
  const auto tokens = test_tokens(24, a->config().n_vocab, 11);
  EXPECT_EQ(max_abs_diff(run_batch(fa, kva, tokens), run_batch(fb, kvb, tokens)), 0.0);
}

// `.scale` companions and attn_v absent (V = raw K) follow the oracle too.
TEST(Gemma4ForwardVariants, ScalesAndMissingValueProjectionMatchTheOracle) {
  gguf::testing::TempDir dir;
  TinyModelSpec spec;
  spec.scales = {{"blk.0.attn_q.scale", 0.5f},
                 {"blk.1.ffn_down.scale", 2.0f},
                 {"blk.4.attn_output.scale", 1.5f},
                 {"output.scale", 0.75f}};
  spec.omit = "blk.2.attn_v.weight";
  auto m = load_tiny(spec, dir);
  ASSERT_NE(m, nullptr);
  kernels::ThreadPool pool(2);
  Gemma4Forward fwd(m->config(), m->weights(), pool);
  auto kv = m->new_kv_pool(kv_opts(KvType::kF32));
  const auto tokens = test_tokens(20, m->config().n_vocab, 12);
  const Logits got = run_batch(fwd, kv, tokens);
  const auto want = naive_logits(m->file(), m->config(), tokens);
  double worst = 0.0;
  for (size_t t = 0; t < got.size(); ++t) {
    for (size_t i = 0; i < got[t].size(); ++i)
      worst = std::max(worst, std::abs(got[t][i] - want[t][i]));
  }
  EXPECT_LT(worst, 1e-3);
}

// Quantised weights (Q4_0 layers; Q8_0 embeddings, as tiny rows are shorter than a Q6_K
// block) multiply Q8_0-quantised activations; the oracle does the same in double.
TEST(Gemma4ForwardQuantized, Q4ModelStaysNearTheOracle) {
  gguf::testing::TempDir dir;
  TinyModelSpec spec;
  spec.matrix_type = quant::GgmlType::kQ4_0;
  spec.embd_type = quant::GgmlType::kQ8_0;
  auto m = load_tiny(spec, dir);
  ASSERT_NE(m, nullptr);
  kernels::ThreadPool pool(2);
  Gemma4Forward fwd(m->config(), m->weights(), pool);
  auto kv = m->new_kv_pool(kv_opts(KvType::kF32));
  const auto tokens = test_tokens(20, m->config().n_vocab, 13);
  const Logits got = run_batch(fwd, kv, tokens);
  const auto want = naive_logits(m->file(), m->config(), tokens);
  // An activation within f32 rounding of a Q8_0 rounding boundary may round one step apart in
  // the engine (f32) and the oracle (double); that is rare and local. So: nearly every
  // position matches to f32 precision, and none is far off.
  int exact = 0;
  double worst = 0.0;
  for (size_t t = 0; t < got.size(); ++t) {
    double pos_worst = 0.0;
    for (size_t i = 0; i < got[t].size(); ++i) {
      pos_worst = std::max(pos_worst, std::abs(got[t][i] - want[t][i]));
    }
    exact += pos_worst < 1e-5 ? 1 : 0;
    worst = std::max(worst, pos_worst);
  }
  EXPECT_GE(exact, static_cast<int>(got.size()) * 9 / 10);
  EXPECT_LT(worst, 0.1);
}

}  // namespace
}  // namespace gemmad::engine::testing
