// The channel splitter: thought, answer and tool calls never mix, whatever the chunking.
#include "chat/stream_splitter.h"

#include <gtest/gtest.h>

namespace gemmad::chat {
namespace {

const std::string kReply =
    "<|channel>thought\nThe user wants <b>weather</b>.<channel|>Let me check."
    "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>"
    "<|tool_call>call:ping{}<tool_call|>";

TEST(StreamSplitter, SplitsAWholeReply) {
  const SplitReply r = split_reply(kReply);
  EXPECT_EQ(r.reasoning, "The user wants <b>weather</b>.");
  EXPECT_EQ(r.answer, "Let me check.");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0], "call:get_weather{city:<|\"|>Paris<|\"|>}");
  EXPECT_EQ(r.calls[1], "call:ping{}");
  EXPECT_FALSE(r.call_open);
}

TEST(StreamSplitter, GivesTheSameResultForEveryChunkSize) {
  for (size_t chunk = 1; chunk <= 13; ++chunk) {
    StreamSplitter s;
    std::vector<ChannelText> out;
    for (size_t i = 0; i < kReply.size(); i += chunk)
      s.push(std::string_view(kReply).substr(i, chunk), out);
    s.finish(out);
    std::string thought, answer, calls;
    for (const auto& p : out) {
      (p.channel == Channel::kThought  ? thought
       : p.channel == Channel::kAnswer ? answer
                                       : calls) += p.text;
      // No piece ever carries a marker.
      EXPECT_EQ(p.text.find("<|channel>"), std::string::npos);
      EXPECT_EQ(p.text.find("<channel|>"), std::string::npos);
      EXPECT_EQ(p.text.find("tool_call"), std::string::npos);
    }
    EXPECT_EQ(thought, "The user wants <b>weather</b>.") << chunk;
    EXPECT_EQ(answer, "Let me check.") << chunk;
    EXPECT_EQ(calls, "call:get_weather{city:<|\"|>Paris<|\"|>}call:ping{}") << chunk;
  }
}

TEST(StreamSplitter, StartsInTheThoughtWhenThePromptOpenedIt) {
  const SplitReply r = split_reply("looked it up<channel|>15 C", /*in_thought=*/true);
  EXPECT_EQ(r.reasoning, "looked it up");
  EXPECT_EQ(r.answer, "15 C");
}

TEST(StreamSplitter, KeepsAnUnclosedThoughtAndCallApart) {
  SplitReply r = split_reply("<|channel>thought\nstill thinking");
  EXPECT_EQ(r.reasoning, "still thinking");
  EXPECT_EQ(r.answer, "");
  r = split_reply("ok<|tool_call>call:f{a:");
  EXPECT_EQ(r.answer, "ok");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0], "call:f{a:");
  EXPECT_TRUE(r.call_open);
}

TEST(StreamSplitter, FlushesAHeldBackPrefixThatNeverBecameAMarker) {
  const SplitReply r = split_reply("a < b <|chan");
  EXPECT_EQ(r.answer, "a < b <|chan");
  EXPECT_EQ(split_reply("<|channel>other name").reasoning, "other name");
}

}  // namespace
}  // namespace gemmad::chat
