// The token index over the real 262,144-token vocabulary (models/tokenizer.json): what each
// kind of token becomes, and a JSON grammar's first masks on it.
#include <gtest/gtest.h>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/token_index.h"
#include "real_vocab.h"

namespace gemmad::constrain {
namespace {

using Syms = std::basic_string<uint16_t>;

Syms bytes(std::string_view s) {
  Syms out;
  for (const char c : s)
    out.push_back(static_cast<uint8_t>(c));
  return out;
}

class RealVocabIndex : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    tok_ = tokenizer::testing::load_real_vocab(&error).release();
    ASSERT_NE(tok_, nullptr) << error;
    auto idx = build_token_index(*tok_);
    ASSERT_TRUE(idx.ok()) << idx.error().message;
    idx_ = new std::shared_ptr<const TokenIndex>(idx.value());
  }
  static tokenizer::Tokenizer* tok_;
  static std::shared_ptr<const TokenIndex>* idx_;
};
tokenizer::Tokenizer* RealVocabIndex::tok_ = nullptr;
std::shared_ptr<const TokenIndex>* RealVocabIndex::idx_ = nullptr;

TEST_F(RealVocabIndex, MapsEachKindOfToken) {
  const TokenIndex& idx = **idx_;
  ASSERT_EQ(idx.vocab_size(), 262144u);
  const TokenId quote = tok_->find_token("<|\"|>");
  ASSERT_GE(quote, 0);
  EXPECT_EQ(Syms(idx.symbols(quote)), Syms(1, kSymQuote));
  for (const char* never :
       {"<|tool_call>", "<tool_call|>", "<turn|>", "<eos>", "<bos>", "<|channel>", "<pad>"}) {
    const TokenId id = tok_->find_token(never);
    ASSERT_GE(id, 0) << never;
    EXPECT_TRUE(idx.symbols(id).empty()) << never;
  }
  const TokenId space_a = tok_->find_token("\xe2\x96\x81the");  // "▁the"
  ASSERT_GE(space_a, 0);
  EXPECT_EQ(Syms(idx.symbols(space_a)), bytes(" the"));
  const TokenId byte = tok_->find_token("<0xC3>");
  ASSERT_GE(byte, 0);
  EXPECT_EQ(Syms(idx.symbols(byte)), Syms(1, 0xc3));
}

TEST_F(RealVocabIndex, MasksFollowTheGrammar) {
  auto g = compile_json_schema(R"({"type":"object","properties":{"city":{"type":"string"}},
                                   "required":["city"]})",
                               Dialect::kJson);
  ASSERT_TRUE(g.ok());
  Matcher m(g.value(), *idx_);
  // At the start only tokens that begin the text {"city": are allowed, e.g. "{" and "{\"".
  for (TokenId id = 0; id < 262144; ++id) {
    if (!m.is_allowed(id)) continue;
    const std::string p(tok_->piece(id));
    const std::string want = "{\"city\": ";
    EXPECT_TRUE(want.starts_with(p) || p.starts_with("{\"city\":")) << p;
  }
  EXPECT_TRUE(m.is_allowed(tok_->find_token("{")));
  for (const char* piece : {"{", "\"", "city", "\":", "\xe2\x96\x81\""}) {
    const TokenId id = tok_->find_token(piece);
    ASSERT_GE(id, 0) << piece;
    ASSERT_TRUE(m.accept(id).ok()) << piece;
  }
  // Inside the string nearly everything is allowed, but never a control token.
  EXPECT_TRUE(m.is_allowed(tok_->find_token("\xe2\x96\x81Paris")));
  EXPECT_FALSE(m.is_allowed(tok_->find_token("<turn|>")));
  EXPECT_FALSE(m.complete());
}

}  // namespace
}  // namespace gemmad::constrain
