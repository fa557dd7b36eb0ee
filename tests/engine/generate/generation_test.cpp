// The generation rules (stop set from the file, max_tokens, context, stop strings, the
// detokenizer's errors) and the offline loop on the tiny synthetic model.
#include "generate/generation.h"

#include <gtest/gtest.h>

#include "kernels/thread_pool.h"
#include "tests/common/generation_cases.h"
#include "tests/common/temp_dir.h"

namespace gemmad::generate {
namespace {

class GenerationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gemmad::testing::TempDir();
    tiny_ = new gemmad::testing::TinyModel(gemmad::testing::load_tiny(dir_->file("tiny.gguf")));
  }
  static void TearDownTestSuite() {
    delete tiny_;
    delete dir_;
  }
  const tokenizer::Tokenizer& tok() { return *tiny_->tok; }
  static gemmad::testing::TempDir* dir_;
  static gemmad::testing::TinyModel* tiny_;
};
gemmad::testing::TempDir* GenerationTest::dir_ = nullptr;
gemmad::testing::TinyModel* GenerationTest::tiny_ = nullptr;

TEST_F(GenerationTest, StopSetComesFromTheFile) {
  ASSERT_TRUE(tiny_->tok);
  const StopSet s = stop_set_for(tok());
  EXPECT_TRUE(s.contains(tok().eos_id()));
  EXPECT_EQ(s.reason(tok().find_token("<turn|>")), StopReason::kStopToken);
  EXPECT_EQ(s.reason(tok().find_token("<eos>")), StopReason::kEos);
  EXPECT_TRUE(s.contains(tok().find_token("<turn|>")));
  EXPECT_TRUE(s.contains(tok().find_token("<eos>")));
  EXPECT_TRUE(s.contains(tok().find_token("<|tool_response>")));
  EXPECT_FALSE(s.contains(tok().find_token("<bos>")));
}

TEST_F(GenerationTest, StopTokensEndWithoutJoiningTheText) {
  Sequence seq(&tok(), stop_set_for(tok()), {}, 100);
  const TokenId a = tok().find_token("a");
  EXPECT_EQ(seq.accept(a, 10).stop, StopReason::kNone);
  const Sequence::Step eos = seq.accept(tok().find_token("<eos>"), 11);
  EXPECT_EQ(eos.stop, StopReason::kEos);
  EXPECT_EQ(seq.tokens().size(), 1u);
  EXPECT_EQ(seq.text(), "a");
  Sequence other(&tok(), stop_set_for(tok()), {}, 100);
  EXPECT_EQ(other.accept(tok().find_token("<turn|>"), 1).stop, StopReason::kStopToken);
  Sequence ignoring(&tok(), stop_set_for(tok()), {.ignore_eos = true}, 100);
  EXPECT_EQ(ignoring.accept(tok().eos_id(), 1).stop, StopReason::kNone);
}

TEST_F(GenerationTest, MaxTokensCountsTheLastToken) {
  Sequence seq(&tok(), stop_set_for(tok()), {.max_tokens = 2}, 100);
  const TokenId a = tok().find_token("a");
  EXPECT_EQ(seq.accept(a, 1).stop, StopReason::kNone);
  EXPECT_EQ(seq.accept(a, 2).stop, StopReason::kMaxTokens);
  EXPECT_EQ(seq.text(), "aa");
}

TEST_F(GenerationTest, ContextIsFullWhenTheNextPositionIsPastIt) {
  EXPECT_TRUE(context_has_room(9, 10));
  EXPECT_FALSE(context_has_room(10, 10));
  Sequence seq(&tok(), stop_set_for(tok()), {}, 10);
  const TokenId a = tok().find_token("a");
  EXPECT_EQ(seq.accept(a, 9).stop, StopReason::kNone);
  const Sequence::Step full = seq.accept(a, 10);
  EXPECT_EQ(full.stop, StopReason::kContextFull);
  EXPECT_EQ(full.text, "a");  // the token is shown; it just cannot be fed
}

TEST_F(GenerationTest, StopStringsAreHeldBackThenCut) {
  Sequence seq(&tok(), stop_set_for(tok()), {.stop_strings = {"cat"}}, 100);
  auto feed = [&](const char* piece) { return seq.accept(tok().find_token(piece), 1); };
  EXPECT_EQ(feed("a").text, "a");
  EXPECT_EQ(feed("c").text, "");  // may begin "cat"
  EXPECT_EQ(feed("o").text, "co");
  EXPECT_EQ(feed("c").text, "");
  EXPECT_EQ(feed("a").text, "");
  const Sequence::Step hit = feed("t");
  EXPECT_EQ(hit.stop, StopReason::kStopString);
  EXPECT_EQ(seq.text(), "aco");
  EXPECT_EQ(seq.tokens().size(), 6u);
  // A held-back prefix that never completes is flushed at the end.
  Sequence tail(&tok(), stop_set_for(tok()), {.stop_strings = {"cat"}}, 100);
  EXPECT_EQ(tail.accept(tok().find_token("c"), 1).text, "");
  EXPECT_EQ(tail.finish(), "c");
  EXPECT_EQ(tail.text(), "c");
}

TEST_F(GenerationTest, LimitsAreValidatedWithTheFieldNamed) {
  EXPECT_TRUE(validate(Limits{}).ok());
  EXPECT_NE(validate({.max_tokens = 0}).error().message.find("max_tokens 0"), std::string::npos);
  EXPECT_NE(validate({.stop_strings = {"a", "b", "c", "d", "e"}}).error().message.find("limit 4"),
            std::string::npos);
  EXPECT_NE(validate({.stop_strings = {""}}).error().message.find("stop[0]"), std::string::npos);
}

TEST_F(GenerationTest, AnIdOutsideTheVocabularyEndsWithTheDetokenizersError) {
  Sequence seq(&tok(), stop_set_for(tok()), {}, 100);
  const Sequence::Step bad = seq.accept(static_cast<TokenId>(tok().vocab_size()) + 5, 1);
  EXPECT_EQ(bad.stop, StopReason::kError);
  EXPECT_FALSE(seq.error().message.empty());
}

TEST_F(GenerationTest, OfflineLoopFollowsTheRulesOnTheTinyModel) {
  ASSERT_TRUE(tiny_->model);
  kernels::ThreadPool pool(1);
  for (const auto& c : gemmad::testing::generation_cases()) {
    SCOPED_TRACE(c.name);
    const auto prompt = tok().encode(c.prompt, {.add_bos = true});
    const uint32_t n_ctx = c.n_ctx ? c.n_ctx : static_cast<uint32_t>(prompt.size()) + 3;
    engine::Gemma4Forward fwd(tiny_->model->config(), tiny_->model->weights(), pool);
    runtime::KvCachePool kv = tiny_->model->new_kv_pool({.n_ctx = n_ctx});
    sampler::Sampler smp(sampler::SamplingParams{.temperature = 0.0f});
    Sequence seq(&tok(), stop_set_for(tok()), c.limits, kv.options().n_ctx);
    std::string streamed;
    const RunResult r =
        run_sequence(fwd, kv, 0, prompt, smp, seq, [&](TokenId, const std::string& t) {
          streamed += t;
          return true;
        });
    EXPECT_EQ(streamed, r.text);
    EXPECT_NE(r.stop, StopReason::kError) << r.error.message;
    EXPECT_LE(r.tokens.size(), static_cast<size_t>(c.limits.max_tokens));
    if (c.name == "max_tokens") {
      EXPECT_EQ(r.stop, StopReason::kMaxTokens);
    }
    if (c.name == "ignore_eos") {
      EXPECT_EQ(r.tokens.size(), 40u);
    }
    if (c.name == "context_full") {
      EXPECT_EQ(r.stop, StopReason::kContextFull);
      EXPECT_EQ(r.tokens.size(), 4u);  // sampled at positions P, P+1, P+2, P+3 = n_ctx
    }
  }
}

}  // namespace
}  // namespace gemmad::generate
