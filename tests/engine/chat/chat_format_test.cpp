// The E2B/E4B chat format against the exact strings of docs/GEMMA4.md §5.4.
#include "chat/chat_format.h"

#include <gtest/gtest.h>

#include <vector>

namespace gemmad::chat {
namespace {

using Msgs = std::vector<Message>;

TEST(ChatText, RendersTheSpecExampleWithThinkingOff) {
  const Msgs m = {{Role::kSystem, "You are a helpful assistant."}, {Role::kUser, "What is 2+2?"}};
  EXPECT_EQ(render_text(m),
            "<bos><|turn>system\nYou are a helpful assistant.<turn|>\n"
            "<|turn>user\nWhat is 2+2?<turn|>\n"
            "<|turn>model\n");
}

TEST(ChatText, PutsThinkAtTheTopOfTheSystemBlockWhenThinkingIsOn) {
  const Msgs m = {{Role::kSystem, "You are a helpful assistant."}, {Role::kUser, "What is 2+2?"}};
  EXPECT_EQ(render_text(m, {.thinking = true}),
            "<bos><|turn>system\n<|think|>\nYou are a helpful assistant.<turn|>\n"
            "<|turn>user\nWhat is 2+2?<turn|>\n"
            "<|turn>model\n");
  // Thinking alone opens a system block.
  EXPECT_EQ(render_text(Msgs{{Role::kUser, "Hi"}}, {.thinking = true}),
            "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatText, HasNoSystemBlockWithoutASystemMessage) {
  EXPECT_EQ(render_text(Msgs{{Role::kUser, "Hi"}}), "<bos><|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatText, TrimsContentAndStripsThoughtsFromPreviousModelTurns) {
  const Msgs m = {
      {Role::kUser, "  \n What is 2+2?\t\n"},
      {Role::kModel, "<|channel>thought\nSimple sum.<channel|>2 + 2 = 4.  "},
      {Role::kUser, "And 3+3?"},
  };
  EXPECT_EQ(render_text(m, {.add_bos = false}),
            "<|turn>user\nWhat is 2+2?<turn|>\n"
            "<|turn>model\n2 + 2 = 4.<turn|>\n"
            "<|turn>user\nAnd 3+3?<turn|>\n"
            "<|turn>model\n");
}

TEST(ChatText, OmitsTheGenerationPromptWhenAsked) {
  EXPECT_EQ(render_text(Msgs{{Role::kUser, "Hi"}}, {.add_generation_prompt = false}),
            "<bos><|turn>user\nHi<turn|>\n");
}

TEST(StripThoughts, RemovesEveryChannelIncludingAnUnclosedOne) {
  EXPECT_EQ(strip_thoughts("a<|channel>x<channel|>b<|channel>y<channel|>c"), "abc");
  EXPECT_EQ(strip_thoughts("answer <|channel>never closed"), "answer");
  EXPECT_EQ(strip_thoughts("no thoughts"), "no thoughts");
  EXPECT_EQ(strip_thoughts("<|channel>thought\nonly<channel|>"), "");
}

TEST(Roles, ParseTheTemplateNamesAndAliases) {
  EXPECT_EQ(*parse_role("assistant"), Role::kModel);
  EXPECT_EQ(*parse_role("developer"), Role::kSystem);
  EXPECT_EQ(*parse_role("user"), Role::kUser);
  EXPECT_EQ(*parse_role("tool"), Role::kTool);
  auto bad = parse_role("function");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'function'"), std::string::npos);
  EXPECT_EQ(role_name(Role::kModel), "model");
}

}  // namespace
}  // namespace gemmad::chat
