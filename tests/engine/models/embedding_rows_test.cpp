// Batch rows that carry an input embedding (docs/GEMMA4.md §1.9): used unscaled, PLE token
// row 0, the placeholder id validated, and mixing with token rows in one batch.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/matmul.h"
#include "model_test_util.h"

namespace gemmad::engine::testing {
namespace {

class EmbeddingRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    model_ = load_tiny(spec_, dir_);
    ASSERT_NE(model_, nullptr);
    d_ = model_->config().n_embd;
  }
  runtime::KvCachePool new_kv() {
    runtime::KvCacheOptions o;
    o.n_ctx = 64;
    o.n_seq = 1;
    return model_->new_kv_pool(o);
  }
  // token_embd[t] * sqrt(d): what a token row feeds the stack (§1.3 step 1).
  std::vector<float> scaled_embedding(int32_t t) const {
    std::vector<float> e(d_);
    kernels::dequantize_weight_row(model_->weights().token_embd, t, e.data());
    for (float& v : e)
      v *= std::sqrt(static_cast<float>(d_));
    return e;
  }
  Logits run(const runtime::Batch& b, runtime::TapFn tap = nullptr) {
    auto kv = new_kv();
    Gemma4Forward fwd(model_->config(), model_->weights(), pool_);
    if (tap) fwd.set_tap(std::move(tap));
    ForwardOutput out;
    Status st = fwd.forward(b, kv, out);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    Logits l;
    for (size_t i = 0; i < out.rows.size(); ++i)
      l.emplace_back(out.row_logits(i), out.row_logits(i) + out.n_vocab);
    return l;
  }

  TinyModelSpec spec_;
  gguf::testing::TempDir dir_;
  std::unique_ptr<runtime::Model> model_;
  kernels::ThreadPool pool_{2};
  uint32_t d_ = 0;
};

TEST_F(EmbeddingRowsTest, RowEqualToPadTokensScaledEmbeddingGivesItsLogits) {
  // Token 0's PLE row is the one embedding rows use, so an embedding row holding token 0's
  // scaled embedding must reproduce token 0 exactly, at every position of a mixed batch.
  const std::vector<int> prefix = test_tokens(5, model_->config().n_vocab);
  const std::vector<float> e0 = scaled_embedding(0);
  runtime::Batch with_tokens, with_embedding;
  int32_t pos = 0;
  for (int t : prefix) {
    with_tokens.add(t, pos, 0, true);
    with_embedding.add(t, pos, 0, true);
    ++pos;
  }
  for (int i = 0; i < 3; ++i, ++pos) {
    with_tokens.add(0, pos, 0, true);
    with_embedding.add_embedding(7, e0.data(), pos, 0, true);  // placeholder id 7
  }
  with_tokens.add(prefix[0], pos, 0, true);
  with_embedding.add(prefix[0], pos, 0, true);
  const Logits want = run(with_tokens);
  const Logits got = run(with_embedding);
  ASSERT_EQ(want.size(), got.size());
  EXPECT_EQ(max_abs_diff(want, got), 0.0);
}

TEST_F(EmbeddingRowsTest, EmbeddingIsUnscaledAndPleUsesRowZero) {
  const std::vector<float> e5 = scaled_embedding(5);
  std::vector<float> raw(d_);
  for (uint32_t i = 0; i < d_; ++i)
    raw[i] = 0.01f * static_cast<float>(i % 13) - 0.05f;
  runtime::Batch b;
  b.add(0, 0, 0, true);                        // row 0: token 0
  b.add_embedding(5, raw.data(), 1, 0, true);  // row 1: embedding, placeholder 5
  b.add(5, 2, 0, true);                        // row 2: token 5
  std::vector<float> inp, ple_tok;
  int64_t ple_cols = 0;
  const Logits l = run(b, [&](const runtime::TapInfo& t) {
    if (t.name == "inp_embd") inp.assign(t.data, t.data + t.n_rows * t.n_cols);
    if (t.name == "ple_tok") {
      ple_tok.assign(t.data, t.data + t.n_rows * t.n_cols);
      ple_cols = t.n_cols;
    }
  });
  ASSERT_EQ(l.size(), 3u);
  ASSERT_EQ(inp.size(), size_t{3} * d_);
  for (uint32_t i = 0; i < d_; ++i) {
    EXPECT_EQ(inp[d_ + i], raw[i]) << i;     // inserted as is, no sqrt(d)
    EXPECT_EQ(inp[2 * d_ + i], e5[i]) << i;  // a token row is scaled
  }
  ASSERT_GT(ple_cols, 0);
  bool differs_from_token5 = false;
  for (int64_t i = 0; i < ple_cols; ++i) {
    EXPECT_EQ(ple_tok[ple_cols + i], ple_tok[i]) << i;  // row 0 (<pad>), not the placeholder's
    differs_from_token5 |= ple_tok[ple_cols + i] != ple_tok[2 * ple_cols + i];
  }
  EXPECT_TRUE(differs_from_token5);
}

TEST_F(EmbeddingRowsTest, PlaceholderIdIsStillValidated) {
  std::vector<float> raw(d_, 0.1f);
  runtime::Batch b;
  b.add_embedding(static_cast<int32_t>(model_->config().n_vocab), raw.data(), 0, 0, true);
  auto kv = new_kv();
  Gemma4Forward fwd(model_->config(), model_->weights(), pool_);
  ForwardOutput out;
  Status st = fwd.forward(b, kv, out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("token id"), std::string::npos) << st.error().message;
  EXPECT_EQ(kv.seq(0).n_pos(), 0);
}

}  // namespace
}  // namespace gemmad::engine::testing
