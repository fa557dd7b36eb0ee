// The streaming detokenizer holds back split UTF-8 characters (docs/TOKENIZER.md "Decoding").
#include "tokenizer/detokenizer.h"

#include <gtest/gtest.h>

#include <string>

#include "tiny_vocab.h"
#include "tokenizer/utf8.h"

namespace gemmad::tokenizer {
namespace {

using namespace testing;

class Streaming : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = load_tiny().release(); }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  // Pushes one id and returns what came out.
  std::string push(Detokenizer& d, TokenId id) {
    std::string out;
    EXPECT_TRUE(d.push(id, out).ok());
    return out;
  }
  static inline Tokenizer* tok_ = nullptr;
};

TEST_F(Streaming, HoldsBackACharacterSplitAcrossByteTokens) {
  Detokenizer d(*tok_);
  EXPECT_EQ(push(d, kA), "a");
  EXPECT_EQ(push(d, byte_id(0xF0)), "");
  EXPECT_EQ(push(d, byte_id(0x9F)), "");
  EXPECT_EQ(push(d, byte_id(0x98)), "");
  EXPECT_EQ(d.pending_bytes(), 3u);
  EXPECT_EQ(push(d, byte_id(0x80)), "\xF0\x9F\x98\x80");  // U+1F600
  EXPECT_EQ(push(d, kSpaceA), " a");
  std::string out;
  d.finish(out);
  EXPECT_EQ(out, "");
}

TEST_F(Streaming, EmitsReplacementAsSoonAsASequenceIsCertainlyInvalid) {
  Detokenizer d(*tok_);
  EXPECT_EQ(push(d, byte_id(0xC3)), "");
  // 'b' cannot continue C3: U+FFFD for the C3, then 'b', at once.
  EXPECT_EQ(push(d, kB), "\uFFFDb");
  // A continuation byte with no lead is invalid immediately.
  EXPECT_EQ(push(d, byte_id(0xA9)), "\uFFFD");
  // E0 80: 80 is outside E0's second-byte range A0..BF -> two replacements.
  EXPECT_EQ(push(d, byte_id(0xE0)), "");
  EXPECT_EQ(push(d, byte_id(0x80)), "\uFFFD\uFFFD");
}

TEST_F(Streaming, FlushesAnIncompleteCharacterAtTheEndAsOneReplacement) {
  Detokenizer d(*tok_);
  EXPECT_EQ(push(d, byte_id(0xE2)), "");
  EXPECT_EQ(push(d, byte_id(0x82)), "");
  std::string out;
  d.finish(out);
  EXPECT_EQ(out, "\uFFFD");
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST_F(Streaming, RendersControlTokensOnlyWhenAsked) {
  Detokenizer with(*tok_);
  EXPECT_EQ(push(with, kTurnEnd), "<turn|>");
  Detokenizer without(*tok_, {.render_special = false});
  EXPECT_EQ(push(without, kTurnEnd), "");
  EXPECT_EQ(push(without, kChannel), "<|channel>");  // user-defined: always text
}

TEST_F(Streaming, RejectsAnIdOutsideTheVocabularyAndKeepsItsState) {
  Detokenizer d(*tok_);
  EXPECT_EQ(push(d, byte_id(0xC3)), "");
  std::string out;
  EXPECT_FALSE(d.push(kTinySize, out).ok());
  EXPECT_FALSE(d.push(-5, out).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(push(d, byte_id(0xA9)), "\u00e9");
}

TEST_F(Streaming, ConcatenationEqualsWholeDecodeForEveryPrefixSplit) {
  // The stream's output, joined, equals decode() of the whole sequence.
  const std::string text = "a\u00e9\xF0\x9F\x98\x80 x b\n\n\u00eb";
  const auto ids = tok_->encode(text);
  Detokenizer d(*tok_);
  std::string joined;
  for (const TokenId id : ids) {
    ASSERT_TRUE(d.push(id, joined).ok());
    EXPECT_TRUE(utf8::is_valid(joined));
  }
  d.finish(joined);
  EXPECT_EQ(joined, text);
  EXPECT_EQ(joined, *tok_->decode(ids));
}

TEST(Utf8, CompletePrefixStopsBeforeAnIncompleteTrailingCharacter) {
  EXPECT_EQ(utf8::complete_prefix("abc"), 3u);
  EXPECT_EQ(utf8::complete_prefix("ab\xE2\x82"), 2u);
  EXPECT_EQ(utf8::complete_prefix("ab\xE2\x82\xAC"), 5u);
  EXPECT_EQ(utf8::complete_prefix("\xF0\x9F\x98"), 0u);
  // Certainly invalid tails are "complete" (they are emitted as U+FFFD).
  EXPECT_EQ(utf8::complete_prefix("a\xE2("), 3u);
  EXPECT_EQ(utf8::complete_prefix("a\xFF"), 2u);
  EXPECT_EQ(utf8::complete_prefix("\xED\xA0"), 2u);  // would be a surrogate
}

TEST(Utf8, ReplacesEachMaximalIllFormedSubpart) {
  std::string out;
  utf8::append_sanitized("a\xF0\x9F\x98z\xC0\xAF\xED\xA0\x80", out);
  // F0 9F 98 -> one U+FFFD; C0 and AF -> one each; ED A0 80 -> ED, A0, 80 one each.
  EXPECT_EQ(out, "a\uFFFDz\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD");
}

}  // namespace
}  // namespace gemmad::tokenizer
