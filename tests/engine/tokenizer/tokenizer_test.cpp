// The BPE encoder and decoder on a hand-made vocabulary (tiny_vocab.h), where every expected
// encoding is derived by hand from the merge ranks (docs/GEMMA4.md §5.1).
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "tiny_vocab.h"

namespace gemmad::tokenizer {
namespace {

using namespace testing;  // tiny vocabulary ids
using Ids = std::vector<TokenId>;

class TinyVocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = load_tiny().release(); }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static Ids enc(std::string_view s, bool special = false) {
    return tok_->encode(s, {.parse_special = special});
  }
  static inline Tokenizer* tok_ = nullptr;
};

TEST_F(TinyVocab, AppliesMergesInRankOrder) {
  // a b c: "a b" (rank 0) before "b c" (rank 1), then "ab c" (rank 2).
  EXPECT_EQ(enc("abc"), (Ids{kABC}));
  // b c a b: "a b" first, then "b c"; no merge joins bc and ab.
  EXPECT_EQ(enc("bcab"), (Ids{kBC, kAB}));
  // ▁ a b: "a b" (rank 0) wins over "▁ a" (rank 3), so ▁a is never formed.
  EXPECT_EQ(enc(" ab"), (Ids{kSpace, kAB}));
  EXPECT_EQ(enc(" a"), (Ids{kSpaceA}));
}

TEST_F(TinyVocab, MergesTheLeftmostPairFirstAmongEqualRanks) {
  EXPECT_EQ(enc("aaa"), (Ids{kAA, kA}));
  // a a a a a -> aa aa a (left to right) -> aaaa a ("aa aa" has a later rank).
  EXPECT_EQ(enc("aaaaa"), (Ids{kAAAA, kA}));
}

TEST_F(TinyVocab, ReplacesSpacesWithoutAddingADummyPrefix) {
  EXPECT_EQ(enc("a"), (Ids{kA}));
  EXPECT_EQ(enc("a b"), (Ids{kA, kSpace, kB}));
  EXPECT_EQ(enc("  "), (Ids{kSpace, kSpace}));
}

TEST_F(TinyVocab, DoesNotSplitWordsWhereATokenJoinsACharacterToAFollowingSpace) {
  // "x▁" is a token (merge "x ▁"), so the text may not be cut before that space.
  EXPECT_EQ(enc("x b"), (Ids{kXSpace, kB}));
  // ▁ x ▁ a b: "a b" (rank 0) first, then "x ▁" (rank 6); "▁ a" (rank 3) went stale.
  EXPECT_EQ(enc("ab x ab"), (Ids{kAB, kSpace, kXSpace, kAB}));
}

TEST_F(TinyVocab, FallsBackToByteTokensForCharactersWithoutAToken) {
  EXPECT_EQ(enc("\u00eb"), (Ids{kEDiaeresis}));
  EXPECT_EQ(enc("\u00e9"), (Ids{byte_id(0xC3), byte_id(0xA9)}));
  EXPECT_EQ(enc("a\u00e9b"), (Ids{kA, byte_id(0xC3), byte_id(0xA9), kB}));
}

TEST_F(TinyVocab, EncodesNewlineRunsWithTheLongestNewlineToken) {
  EXPECT_EQ(enc("\n"), (Ids{kNl}));
  EXPECT_EQ(enc("\n\n\n"), (Ids{kNlNl, kNl}));
  EXPECT_EQ(enc("a\n\nb"), (Ids{kA, kNlNl, kB}));
}

TEST_F(TinyVocab, MatchesControlTokensOnlyWithParseSpecial) {
  const Ids as_text = {byte_id('<'), byte_id('|'), byte_id('t'), byte_id('u'),
                       byte_id('r'), byte_id('n'), byte_id('>'), kA};
  EXPECT_EQ(enc("<|turn>a"), as_text);
  EXPECT_EQ(enc("<|turn>a", true), (Ids{kTurn, kA}));
  EXPECT_EQ(enc("a<turn|><|turn>", true), (Ids{kA, kTurnEnd, kTurn}));
  // A prefix of a special token is just text.
  EXPECT_EQ(enc("<|turn", true).size(), 6u);
}

TEST_F(TinyVocab, AlwaysMatchesUserDefinedTokens) {
  EXPECT_EQ(enc("<|channel>"), (Ids{kChannel}));
  EXPECT_EQ(enc("ab<|channel>c", true), (Ids{kAB, kChannel, kC}));
}

TEST_F(TinyVocab, AddsBosOnlyWhenAsked) {
  EXPECT_EQ(tok_->encode("a"), (Ids{kA}));
  EXPECT_EQ(tok_->encode("a", {.add_bos = true}), (Ids{kBos, kA}));
  EXPECT_EQ(tok_->encode(""), Ids{});
}

TEST_F(TinyVocab, EncodesNulAndInvalidUtf8AsByteTokens) {
  EXPECT_EQ(enc(std::string("\0", 1)), (Ids{byte_id(0)}));
  EXPECT_EQ(enc("\xFF"), (Ids{byte_id(0xFF)}));
  EXPECT_EQ(enc("\xC3("), (Ids{byte_id(0xC3), byte_id('(')}));
  // A truncated 4-byte sequence, a lone continuation byte, an overlong encoding.
  EXPECT_EQ(enc("\xF0\x9F\x98"), (Ids{byte_id(0xF0), byte_id(0x9F), byte_id(0x98)}));
  EXPECT_EQ(enc("\x80"), (Ids{byte_id(0x80)}));
  EXPECT_EQ(enc("\xC0\xAF"), (Ids{byte_id(0xC0), byte_id(0xAF)}));
}

TEST_F(TinyVocab, EncodesLongRunsOfOneCharacterLikeWholeWordBpe) {
  // 100001 'a': every "a a" merges left to right, then every "aa aa": 25000 x aaaa + a.
  // The run is longer than one BPE window, so this also checks the windowing.
  const Ids ids = enc(std::string(100001, 'a'));
  ASSERT_EQ(ids.size(), 25001u);
  for (size_t i = 0; i < 25000; ++i)
    ASSERT_EQ(ids[i], kAAAA) << i;
  EXPECT_EQ(ids.back(), kA);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kHugeRun = 2u << 20;  // sanitizers slow BPE ~20x; linearity shows at 2 MB
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr size_t kHugeRun = 2u << 20;
#else
constexpr size_t kHugeRun = 10u << 20;
#endif
#else
constexpr size_t kHugeRun = 10u << 20;
#endif

TEST_F(TinyVocab, EncodesTenMegabytesOfOneCharacterQuickly) {
  const auto t0 = std::chrono::steady_clock::now();
  const Ids ids = enc(std::string(kHugeRun, 'a'));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(ids.size(), kHugeRun / 4);
  // Linear time: under 1 s in a release build. Quadratic BPE would take hours.
  EXPECT_LT(s, 60.0);
}

TEST_F(TinyVocab, DecodesSpacesBytesAndSpecialTokens) {
  EXPECT_EQ(*tok_->decode(Ids{kSpaceA, kB}), " ab");
  EXPECT_EQ(*tok_->decode(Ids{byte_id(0xC3), byte_id(0xA9)}), "\u00e9");
  EXPECT_EQ(*tok_->decode(Ids{kBos, kTurn, kA, kChannel, kNl}), "<bos><|turn>a<|channel>\n");
  EXPECT_EQ(*tok_->decode(Ids{kBos, kTurn, kA, kChannel}, {.render_special = false}),
            "a<|channel>");
  // An incomplete character at the end becomes U+FFFD.
  EXPECT_EQ(*tok_->decode(Ids{kA, byte_id(0xC3)}), "a\uFFFD");
}

TEST_F(TinyVocab, RejectsIdsOutsideTheVocabularyWhenDecoding) {
  auto r = tok_->decode(Ids{kA, kTinySize});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(std::to_string(kTinySize)), std::string::npos);
  EXPECT_FALSE(tok_->decode(Ids{-1}).ok());
}

TEST_F(TinyVocab, RoundTripsWellFormedText) {
  for (const std::string& t :
       std::vector<std::string>{"abc bca  cab", "x b\n\n\nx\u00e9\u00eb", "\xF0\x9F\x98\x80 a",
                                "<|turn> is text", std::string("\0a\0", 3)}) {
    EXPECT_EQ(*tok_->decode(enc(t)), t);
  }
}

TEST(TokenizerLoad, ReadsTheVocabularyFromAFullModelGguf) {
  // A model file carries the same keys next to tensors and other metadata.
  const VocabData d = tiny_vocab_data();
  gguf::GgufWriter w;
  w.set_string("general.architecture", "gemma4");
  w.set_u32("gemma4.block_count", 1);
  write_vocab_keys(d, w);
  w.add_tensor("token_embd.weight", quant::GgmlType::kF32, {4, kTinySize},
               [](std::span<uint8_t> out) { std::fill(out.begin(), out.end(), 0); });
  const std::string path = ::testing::TempDir() + "/tiny-model.gguf";
  ASSERT_TRUE(w.write(path).ok());
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->vocab_size(), static_cast<size_t>(kTinySize));
  EXPECT_EQ((*tok)->encode("abc"), (Ids{kABC}));
  std::filesystem::remove(path);
}

std::string load_error(const VocabData& d) {
  auto tok = Tokenizer::from_data(d);
  return tok.ok() ? "" : tok.error().message;
}

TEST(TokenizerLoad, RejectsAnotherTokenizerModelNamingTheKey) {
  VocabData d = tiny_vocab_data();
  d.model = "llama";
  const std::string path = ::testing::TempDir() + "/llama-vocab.gguf";
  ASSERT_TRUE(write_vocab_gguf(d, path).ok());
  auto tok = Tokenizer::load(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().message.find("tokenizer.ggml.model"), std::string::npos);
  EXPECT_NE(tok.error().message.find("llama"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(TokenizerLoad, RejectsInconsistentVocabularies) {
  VocabData d = tiny_vocab_data();
  d.types.pop_back();
  EXPECT_NE(load_error(d).find("token_type"), std::string::npos);

  d = tiny_vocab_data();
  d.merges.push_back("a q");
  EXPECT_NE(load_error(d).find("'q' is not in the vocabulary"), std::string::npos);

  d = tiny_vocab_data();
  d.merges.push_back("c c");  // "cc" is not a token
  EXPECT_NE(load_error(d).find("merged token 'cc'"), std::string::npos);

  d = tiny_vocab_data();
  d.merges.push_back("abc");
  EXPECT_NE(load_error(d).find("no space"), std::string::npos);

  d = tiny_vocab_data();
  d.bos_id = 100000;
  EXPECT_NE(load_error(d).find("bos_token_id"), std::string::npos);

  d = tiny_vocab_data();
  d.tokens.clear();
  d.types.clear();
  EXPECT_NE(load_error(d).find("tokens"), std::string::npos);
}

TEST(TokenizerLoad, RejectsTokenTypesOutsideTheKnownValues) {
  // Only through a file can a raw type value be out of range.
  VocabData d = tiny_vocab_data();
  gguf::GgufWriter w;
  write_vocab_keys(d, w);
  std::vector<int32_t> types(d.types.size(), 1);
  types[7] = 42;
  w.set_i32_array(kKeyTokenType, types);
  const std::string path = ::testing::TempDir() + "/bad-types.gguf";
  ASSERT_TRUE(w.write(path).ok());
  auto tok = Tokenizer::load(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().message.find("entry 7 is 42"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace gemmad::tokenizer
