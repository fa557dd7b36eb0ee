// The tokenizer on the real Gemma 4 vocabulary: the 46 reference encodings published with
// llama.cpp (made by Hugging Face's tokenizer, docs/TOKENIZER.md), round trips, special tokens.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "real_vocab.h"
#include "tokenizer/detokenizer.h"

namespace gemmad::tokenizer {
namespace {

class RealVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto t0 = std::chrono::steady_clock::now();
    tok_ = testing::load_real_vocab(&error_).release();
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(tok_, nullptr) << error_; }

  static const Tokenizer& tok() { return *tok_; }
  static inline Tokenizer* tok_ = nullptr;
  static inline std::string error_;
  static inline double load_seconds_ = 0;
};

TEST_F(RealVocab, ReproducesTheFortySixReferenceEncodings) {
  std::ifstream in(testing::reference_jsonl_path());
  ASSERT_TRUE(in) << "cannot open " << testing::reference_jsonl_path();
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto doc = nlohmann::json::parse(line);
    const std::string text = doc["text"].get<std::string>();
    const std::vector<TokenId> want = doc["ids"].get<std::vector<TokenId>>();
    EXPECT_EQ(tok().encode(text), want) << "reference line " << doc["id"] << ": " << text;
    // Decoding gives the text back (the reference texts are well-formed UTF-8).
    auto back = tok().decode(want);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, text);
    ++n;
  }
  EXPECT_EQ(n, 46);
}

TEST_F(RealVocab, HasTheGemma4SpecialTokensWithTheirTypes) {
  EXPECT_EQ(tok().vocab_size(), 262144u);
  EXPECT_EQ(tok().find_token("<|turn>"), 105);
  EXPECT_EQ(tok().token_type(105), TokenType::kControl);
  EXPECT_EQ(tok().find_token("<turn|>"), 106);
  EXPECT_EQ(tok().find_token("<|think|>"), 98);
  EXPECT_EQ(tok().find_token("<|channel>"), 100);
  EXPECT_EQ(tok().token_type(100), TokenType::kUserDefined);
  EXPECT_EQ(tok().find_token("<|\"|>"), 52);
  EXPECT_EQ(tok().find_token("<|video|>"), 258884);
  EXPECT_EQ(tok().find_token("<start_of_turn>"), -1);
  EXPECT_EQ(tok().find_token("<0x41>"), 238 + 0x41);
  EXPECT_EQ(tok().token_type(238), TokenType::kByte);
  EXPECT_EQ(tok().bos_id(), 2);
  EXPECT_LT(load_seconds_, 30.0);  // generous for sanitizer builds; release takes ~1-2 s
}

TEST_F(RealVocab, MatchesControlTokensOnlyWhenAskedButUserDefinedOnesAlways) {
  const std::string text = "<|turn>user\nHi<turn|><|channel>";
  const auto plain = tok().encode(text);
  for (const TokenId id : plain) {
    EXPECT_NE(id, 105);
    EXPECT_NE(id, 106);
  }
  EXPECT_EQ(plain.back(), 100);  // <|channel> is user-defined (docs/GEMMA4.md §5.2)
  const auto special = tok().encode(text, {.parse_special = true});
  ASSERT_GE(special.size(), 4u);
  EXPECT_EQ(special.front(), 105);
  EXPECT_EQ(special.back(), 100);
  EXPECT_EQ(special[special.size() - 2], 106);
  // Either way the text comes back.
  EXPECT_EQ(*tok().decode(plain), text);
  EXPECT_EQ(*tok().decode(special), text);
}

TEST_F(RealVocab, RoundTripsVariedTextAndEncodesHostileBytesAsByteTokens) {
  const std::vector<std::string> texts = {
      "The quick brown fox jumps over the lazy dog.\n\nIt was   the best of times.\t\tEnd",
      "Ünïcödé — “quotes” ‘single’ … € ½ 日本語のテキスト 한국어 العربية עברית",
      "code: for (int i = 0; i < n; ++i) { x[i] <<= 2; }  // <b>bold</b> > </div>",
      std::string(100, '\n') + std::string(70, ' ') + std::string(40, '\t') + "x",
      "emoji 👩‍👩‍👧‍👦 🇩🇪 🏳️‍🌈 and more",
  };
  for (const std::string& t : texts) {
    const auto ids = tok().encode(t);
    EXPECT_EQ(*tok().decode(ids), t) << t;
  }
  // A literal U+2581 is indistinguishable from a normalised space, so it decodes as a space
  // (as Hugging Face's decoder does).
  EXPECT_EQ(*tok().decode(tok().encode("a\u2581b")), "a b");
  // NUL and invalid UTF-8 become byte tokens; decoding gives U+FFFD for the invalid bytes.
  const std::string hostile("a\0b\xFF\xC3(\xE2\x82", 8);
  const auto ids = tok().encode(hostile);
  EXPECT_EQ(ids[1], 238 + 0x00);
  EXPECT_EQ(*tok().decode(ids), std::string("a\0b\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD", 13));
}

TEST_F(RealVocab, EncodesALongTextLikeItsLinesEncodedOneByOne) {
  // A long text repeats its words, so most are served from the per-call word cache; each line
  // alone is encoded with a fresh cache. Newlines are tokens of their own, so both agree.
  const std::vector<std::string> lines = {
      "Fellow-Citizens of the Senate and House of Representatives: the state of the Union",
      "    indented   code(x) => { return x >= 0 ? x : -x; }  // tabs\tand  spaces",
      "Numbers 1234567 and 3.14159, dates 2024-06-01, e-mail a.b@example.com, URLs https://x.y/z",
      "Mixed scripts: Ελληνικά, русский, हिन्दी, 中文, 日本語, 한국어 and emoji 🚀🔥.",
  };
  std::string text;
  std::vector<TokenId> want;
  const TokenId nl = tok().find_token("\n");
  for (int rep = 0; rep < 50; ++rep) {
    for (const std::string& line : lines) {
      text += line;
      text += "\n";
      const auto ids = tok().encode(line);
      want.insert(want.end(), ids.begin(), ids.end());
      want.push_back(nl);
    }
  }
  EXPECT_EQ(tok().encode(text), want);
}

}  // namespace
}  // namespace gemmad::tokenizer
