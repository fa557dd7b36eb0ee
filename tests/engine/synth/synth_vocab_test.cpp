// Tests of the built-in synthetic vocabulary: real Gemma 4 ids and types for the special
// tokens, whitespace runs and bytes (docs/TOKENIZER.md), unique tokens, valid merges.
#include "synth/synth_vocab.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <unordered_map>

namespace gemmad::synth {
namespace {

const std::string kSp = "\xe2\x96\x81";  // U+2581

TEST(SynthVocab, PutsSpecialTokensAtTheirGemma4Ids) {
  Result<SynthVocab> r = build_builtin_vocab(512);
  ASSERT_TRUE(r.ok());
  const SynthVocab& v = *r;
  ASSERT_EQ(v.tokens.size(), 512u);
  struct Want {
    uint32_t id;
    const char* text;
    TokenType type;
  };
  for (const Want& w : {Want{0, "<pad>", TokenType::kControl},
                        Want{1, "<eos>", TokenType::kControl},
                        Want{2, "<bos>", TokenType::kControl},
                        Want{3, "<unk>", TokenType::kControl},
                        Want{4, "<mask>", TokenType::kControl},
                        Want{46, "<|tool>", TokenType::kControl},
                        Want{47, "<tool|>", TokenType::kControl},
                        Want{48, "<|tool_call>", TokenType::kUserDefined},
                        Want{49, "<tool_call|>", TokenType::kUserDefined},
                        Want{50, "<|tool_response>", TokenType::kUserDefined},
                        Want{51, "<tool_response|>", TokenType::kUserDefined},
                        Want{52, "<|\"|>", TokenType::kUserDefined},
                        Want{98, "<|think|>", TokenType::kControl},
                        Want{100, "<|channel>", TokenType::kUserDefined},
                        Want{101, "<channel|>", TokenType::kUserDefined},
                        Want{105, "<|turn>", TokenType::kControl},
                        Want{106, "<turn|>", TokenType::kControl},
                        Want{107, "\n", TokenType::kNormal},
                        Want{108, "\n\n", TokenType::kNormal},
                        Want{238, "<0x00>", TokenType::kByte},
                        Want{248, "<0x0A>", TokenType::kByte},
                        Want{493, "<0xFF>", TokenType::kByte}}) {
    EXPECT_EQ(v.tokens[w.id], w.text) << w.id;
    EXPECT_EQ(v.types[w.id], w.type) << w.id;
  }
  EXPECT_EQ(v.tokens[137], std::string(31, '\n'));
  EXPECT_EQ(v.tokens[138], kSp + kSp);
  std::string run31;
  for (int i = 0; i < 31; ++i)
    run31 += kSp;
  EXPECT_EQ(v.tokens[167], run31);
}

TEST(SynthVocab, TokensAreUniqueAndEveryMergeJoinsTwoTokensIntoAThird) {
  for (uint32_t n : {512u, 4096u}) {
    Result<SynthVocab> r = build_builtin_vocab(n);
    ASSERT_TRUE(r.ok());
    std::unordered_map<std::string, uint32_t> ids;
    for (uint32_t i = 0; i < r->tokens.size(); ++i) {
      ASSERT_FALSE(r->tokens[i].empty()) << i;
      EXPECT_TRUE(ids.emplace(r->tokens[i], i).second) << "duplicate " << r->tokens[i];
    }
    ASSERT_FALSE(r->merges.empty());
    for (const std::string& m : r->merges) {
      const size_t sp = m.find(' ');
      ASSERT_NE(sp, std::string::npos) << m;
      const std::string l = m.substr(0, sp), rr = m.substr(sp + 1);
      EXPECT_TRUE(ids.count(l)) << m;
      EXPECT_TRUE(ids.count(rr)) << m;
      EXPECT_TRUE(ids.count(l + rr)) << m;
    }
    // Plain English needs the space and lowercase letters as normal tokens.
    ASSERT_TRUE(ids.count(kSp));
    for (char c = 'a'; c <= 'z'; ++c) {
      ASSERT_TRUE(ids.count(std::string(1, c))) << c;
      EXPECT_EQ(r->types[ids[std::string(1, c)]], TokenType::kNormal);
    }
  }
}

TEST(SynthVocab, LargeVocabulariesHaveTheHighSpecialIds) {
  Result<SynthVocab> r = build_builtin_vocab(262144);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tokens[255968], "\t");
  EXPECT_EQ(r->tokens[255999], "<|image>");
  EXPECT_EQ(r->tokens[256000], "<|audio>");
  EXPECT_EQ(r->tokens[258880], "<|image|>");
  EXPECT_EQ(r->tokens[258884], "<|video|>");
  EXPECT_EQ(r->types[258884], TokenType::kControl);
  std::set<std::string> unique(r->tokens.begin(), r->tokens.end());
  EXPECT_EQ(unique.size(), r->tokens.size());
}

TEST(SynthVocab, RejectsASizeBelowTheFixedIds) {
  Result<SynthVocab> r = build_builtin_vocab(300);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("300"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::synth
