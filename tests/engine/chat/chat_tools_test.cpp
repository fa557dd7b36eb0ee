// The chat format with tools against the exact strings of docs/GEMMA4.md §5.4 "Tools": the
// declarations in the system block, a model turn's calls, the results in the same turn, and
// the E2B generation prompt after a result with thinking on.
#include <gtest/gtest.h>

#include <vector>

#include "chat/chat_format.h"

namespace gemmad::chat {
namespace {

const std::vector<ToolDeclaration> kTools = {
    {"get_weather", "Weather now.",
     R"({"type":"object","properties":{"city":{"type":"string","description":"A city"}},)"
     R"("required":["city"]})"},
    {"ping", "No parameters.", ""},
};

TEST(ChatTools, DeclaresToolsInTheSystemBlock) {
  const std::vector<Message> m = {{Role::kUser, "Hi"}};
  EXPECT_EQ(
      render_text(m, {.add_bos = false, .tools = kTools}),
      "<|turn>system\n"
      "<|tool>declaration:get_weather{description:<|\"|>Weather now.<|\"|>,"
      "parameters:{properties:{city:{description:<|\"|>A city<|\"|>,type:<|\"|>STRING<|\"|>}},"
      "required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|>"
      "<|tool>declaration:ping{description:<|\"|>No parameters.<|\"|>}<tool|>"
      "<turn|>\n"
      "<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST(ChatTools, PutsThinkThenSystemTextThenDeclarations) {
  const std::vector<Message> m = {{Role::kSystem, " Be brief. "}, {Role::kUser, "Hi"}};
  const std::vector<ToolDeclaration> one = {kTools[1]};
  EXPECT_EQ(render_text(m, {.thinking = true, .add_bos = false, .tools = one}),
            "<|turn>system\n<|think|>\nBe brief."
            "<|tool>declaration:ping{description:<|\"|>No parameters.<|\"|>}<tool|><turn|>\n"
            "<|turn>user\nHi<turn|>\n<|turn>model\n");
}

std::vector<Message> call_and_result() {
  Message call{Role::kModel, "<|channel>thought\nneed weather<channel|>Checking."};
  call.tool_calls = {{"get_weather", R"({"city":"Paris","days":3,"hourly":false})"}};
  Message result{Role::kTool, R"({"temp":15.5,"sky":"clear","alerts":[]})"};
  result.tool_name = "get_weather";
  return {{Role::kUser, "Weather in Paris?"}, call, result};
}

TEST(ChatTools, RendersCallsAndResultsInOneModelTurn) {
  EXPECT_EQ(render_text(call_and_result(), {.add_bos = false}),
            "<|turn>user\nWeather in Paris?<turn|>\n"
            "<|turn>model\nChecking."
            "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3,hourly:false}<tool_call|>"
            "<|tool_response>response:get_weather{alerts:[],sky:<|\"|>clear<|\"|>,temp:15.5}"
            "<tool_response|><turn|>\n"
            "<|turn>model\n");
}

TEST(ChatTools, OpensTheThoughtChannelAfterAResultWithThinkingOn) {
  EXPECT_EQ(render_text(call_and_result(), {.thinking = true, .add_bos = false}),
            "<|turn>system\n<|think|>\n<turn|>\n"
            "<|turn>user\nWeather in Paris?<turn|>\n"
            "<|turn>model\nChecking."
            "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3,hourly:false}<tool_call|>"
            "<|tool_response>response:get_weather{alerts:[],sky:<|\"|>clear<|\"|>,temp:15.5}"
            "<tool_response|><|channel>thought\n");
}

TEST(ChatTools, WrapsAResultThatIsNoObjectAsValue) {
  auto m = call_and_result();
  m[2].content = "  sunny, 15 C ";
  std::vector<Message> more = m;
  more.push_back({Role::kModel, "It is sunny."});
  more.push_back({Role::kUser, "Thanks"});
  EXPECT_EQ(render_text(more, {.add_bos = false}),
            "<|turn>user\nWeather in Paris?<turn|>\n"
            "<|turn>model\nChecking."
            "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3,hourly:false}<tool_call|>"
            "<|tool_response>response:get_weather{value:<|\"|>sunny, 15 C<|\"|>}"
            "<tool_response|><turn|>\n"
            "<|turn>model\nIt is sunny.<turn|>\n"
            "<|turn>user\nThanks<turn|>\n<|turn>model\n");
}

TEST(ChatTools, ValidationNamesTheField) {
  std::vector<ToolDeclaration> bad = {{"ok", "", ""}, {"no spaces", "", ""}};
  auto st = validate_tools(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("tools[1].name"), std::string::npos) << st.error().message;
  bad = {{"f", "", "[1]"}};
  st = validate_tools(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("tools[0].parameters must be a JSON object"), std::string::npos)
      << st.error().message;
  bad = {{"f", "", ""}, {"f", "", ""}};
  EXPECT_FALSE(validate_tools(bad).ok());

  auto m = call_and_result();
  EXPECT_TRUE(validate_messages(m).ok());
  m[1].tool_calls[0].arguments_json = "{oops";
  st = validate_messages(m);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("messages[1].tool_calls[0].arguments is not valid JSON"),
            std::string::npos)
      << st.error().message;
  m = call_and_result();
  m.erase(m.begin() + 1);  // a result without a call
  st = validate_messages(m);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("messages[1]"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace gemmad::chat
