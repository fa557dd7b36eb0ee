// The reply's token policy with the real vocabulary: the thought opener and the budget are
// forced, tool choice masks or forces `<|tool_call>`, a grammar constrains a call and ends it.
#include "chat/turn_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "real_vocab.h"

namespace gemmad::chat {
namespace {

class Policy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = tokenizer::testing::load_real_vocab(&error_).release(); }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(tok_, nullptr) << error_;
    auto f = ChatFormat::create(*tok_);
    ASSERT_TRUE(f.ok());
    format_.emplace(std::move(f).value());
    ASSERT_TRUE(format_->has_tool_tokens());
    header_ = tok_->encode("thought\n", {.add_bos = false, .parse_special = false});
  }
  // The tokens mask() leaves.
  std::vector<TokenId> allowed(TurnPolicy& p) {
    std::vector<float> logits(tok_->vocab_size(), 1.0f);
    p.mask(logits);
    std::vector<TokenId> out;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (std::isfinite(logits[i])) out.push_back(static_cast<TokenId>(i));
    }
    return out;
  }
  bool allows(TurnPolicy& p, TokenId id) {
    const auto a = allowed(p);
    return std::find(a.begin(), a.end(), id) != a.end();
  }
  const ChatFormat::ToolIds& ids() const { return format_->tool_ids(); }

  static inline tokenizer::Tokenizer* tok_ = nullptr;
  static inline std::string error_;
  std::optional<ChatFormat> format_;
  std::vector<TokenId> header_;
};

TEST_F(Policy, ForcesTheThoughtOpenerAndClosesItAtTheBudget) {
  TurnPolicy p(*format_, header_, {.thinking = true, .thinking_budget = 3});
  EXPECT_EQ(allowed(p), std::vector<TokenId>{ids().channel});
  ASSERT_TRUE(p.accept(ids().channel).ok());
  for (TokenId h : header_) {
    EXPECT_EQ(allowed(p), std::vector<TokenId>{h});
    ASSERT_TRUE(p.accept(h).ok());
  }
  const TokenId word = tok_->encode("hmm", {.add_bos = false})[0];
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(allowed(p).size(), 1000u);
    EXPECT_FALSE(allows(p, ids().channel));  // no nested channel
    ASSERT_TRUE(p.accept(word).ok());
  }
  EXPECT_EQ(allowed(p), std::vector<TokenId>{ids().channel_end});
  EXPECT_FALSE(p.accept(word).ok());  // against the forced token
  ASSERT_TRUE(p.accept(ids().channel_end).ok());
  EXPECT_TRUE(p.budget_forced());
  EXPECT_EQ(p.thought_tokens(), 3u);
  // The answer: free text, no second thought, no call without tools.
  EXPECT_FALSE(allows(p, ids().channel));
  EXPECT_FALSE(allows(p, ids().call));
  EXPECT_TRUE(allows(p, format_->turn_end_id()));
}

TEST_F(Policy, ThinkingOffMasksTheChannel) {
  TurnPolicy p(*format_, header_, {});
  EXPECT_FALSE(allows(p, ids().channel));
  EXPECT_FALSE(allows(p, ids().call));
}

TEST_F(Policy, AutoAllowsACallAndThenOnlyAnotherCallOrTheEnd) {
  TurnPolicy p(*format_, header_, {.tools = ToolMode::kAuto});
  EXPECT_TRUE(allows(p, ids().call));
  ASSERT_TRUE(p.accept(ids().call).ok());
  EXPECT_FALSE(allows(p, ids().call));
  ASSERT_TRUE(p.accept(ids().call_end).ok());
  EXPECT_EQ(allowed(p), (std::vector<TokenId>{ids().call, ids().response}));
}

// A grammar of one token sequence, to see the policy drive a constraint.
class Sequence : public Constraint {
 public:
  explicit Sequence(std::vector<TokenId> ids) : ids_(std::move(ids)) {}
  void mask(std::span<float> logits) const override {
    for (size_t i = 0; i < logits.size(); ++i) {
      if (at_ >= ids_.size() || static_cast<TokenId>(i) != ids_[at_]) {
        logits[i] = -INFINITY;
      }
    }
  }
  Status accept(TokenId id) override {
    if (at_ >= ids_.size() || id != ids_[at_]) {
      return make_error(ErrorCode::kInternal, "off the sequence");
    }
    ++at_;
    return {};
  }
  bool complete() const override { return at_ == ids_.size(); }
  bool must_end() const override { return at_ == ids_.size(); }

 private:
  std::vector<TokenId> ids_;
  size_t at_ = 0;
};

TEST_F(Policy, RequiredForcesACallUnderTheGrammarAndEndsIt) {
  const auto call = tok_->encode("call:f{}", {.add_bos = false});
  TurnPolicy p(*format_, header_, {.tools = ToolMode::kRequired, .call_grammar = [&] {
                                     return std::make_unique<Sequence>(call);
                                   }});
  EXPECT_EQ(allowed(p), std::vector<TokenId>{ids().call});
  ASSERT_TRUE(p.accept(ids().call).ok());
  for (TokenId t : call) {
    EXPECT_EQ(allowed(p), std::vector<TokenId>{t});
    ASSERT_TRUE(p.accept(t).ok());
  }
  EXPECT_EQ(allowed(p), std::vector<TokenId>{ids().call_end});
  ASSERT_TRUE(p.accept(ids().call_end).ok());
  EXPECT_EQ(allowed(p), std::vector<TokenId>{ids().response});  // one required call
}

TEST_F(Policy, AnAnswerGrammarEndsTheTurnWhenComplete) {
  const auto json = tok_->encode("{}", {.add_bos = false});
  TurnPolicy p(*format_, header_,
               {.answer_grammar = [&] { return std::make_unique<Sequence>(json); }});
  for (TokenId t : json) {
    EXPECT_EQ(allowed(p), std::vector<TokenId>{t});
    ASSERT_TRUE(p.accept(t).ok());
  }
  EXPECT_EQ(allowed(p), std::vector<TokenId>{format_->turn_end_id()});
}

}  // namespace
}  // namespace gemmad::chat
