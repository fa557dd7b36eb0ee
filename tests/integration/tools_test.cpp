// Tools, thinking and JSON replies end to end over the protobuf socket: a real gemmad with a
// random-weight synthetic model, a real SQLite file. Random weights rarely call a tool on
// their own, so calls are forced (TOOL_CHOICE_FUNCTION / REQUIRED) and thinking is bounded
// by a budget that forces the thought channel closed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "ipc/protocol.h"

namespace gemmad::testing {
namespace {

constexpr const char* kWeatherSchema =
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":12},)"
    R"("days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false})";

v1::ChatRequest base(const std::string& text, const std::string& session = "") {
  v1::ChatRequest r;
  r.set_session_id(session);
  r.set_new_session(session.empty());
  r.set_user_text(text);
  r.mutable_sampling()->set_seed(7);
  r.mutable_sampling()->set_max_tokens(120);
  return r;
}

void add_weather_tool(v1::ChatRequest& r) {
  auto* t = r.add_tools();
  t->set_name("get_weather");
  t->set_description("The weather in a city.");
  t->set_parameters_json(kWeatherSchema);
}

TEST(Tools, AForcedCallValidatesIsStoredAndItsResultContinuesTheTurn) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  std::string session;
  {
    auto c = d.connect("tools");
    v1::ChatRequest r = base("Weather in Paris for 2 days?");
    add_weather_tool(r);
    r.mutable_tool_choice()->set_mode(v1::TOOL_CHOICE_FUNCTION);
    r.mutable_tool_choice()->set_function("get_weather");
    std::string answer;
    int call_tokens = 0;
    std::string call_text;
    auto done = c.chat(r, [&](const v1::Token& t) {
      if (t.channel() == v1::CHANNEL_ANSWER) answer += t.text();
      call_tokens += t.channel() == v1::CHANNEL_TOOL_CALL;
      if (t.channel() == v1::CHANNEL_TOOL_CALL) call_text += t.text();
    });
    ASSERT_TRUE(done.ok()) << done.error().message << d.log();
    ASSERT_EQ(done->stop_reason(), v1::STOP_REASON_TOOL_CALLS) << done->DebugString() << call_text;
    ASSERT_EQ(done->tool_calls_size(), 1) << done->DebugString();
    EXPECT_EQ(done->tool_calls(0).name(), "get_weather");
    EXPECT_EQ(done->tool_calls(0).id().rfind("call_", 0), 0u);
    const auto args = nlohmann::json::parse(done->tool_calls(0).arguments_json());
    ASSERT_TRUE(args.is_object());
    EXPECT_TRUE(args["city"].is_string());
    size_t chars = 0;  // maxLength counts characters, not bytes
    for (unsigned char ch : args["city"].get<std::string>())
      chars += (ch & 0xC0) != 0x80;
    EXPECT_LE(chars, 12u);
    EXPECT_TRUE(args["days"].is_number_integer());
    EXPECT_EQ(args.size(), 2u);
    EXPECT_GT(call_tokens, 0);
    EXPECT_EQ(answer, "");  // the call is its own channel, never answer text
    session = done->session_id();

    // The result goes back; the model continues the same conversation.
    v1::ChatRequest next = base("", session);
    next.set_new_session(false);
    add_weather_tool(next);
    auto* res = next.add_tool_results();
    res->set_call_id(done->tool_calls(0).id());
    res->set_content(R"({"temp_c":15,"sky":"clear"})");
    next.mutable_sampling()->set_max_tokens(8);
    auto cont = c.chat(next, [](const v1::Token&) {});
    ASSERT_TRUE(cont.ok()) << cont.error().message << d.log();
    EXPECT_EQ(cont->session_id(), session);
  }
  // Calls and results survive a restart.
  ASSERT_EQ(d.stop(), 0) << d.log();
  ASSERT_TRUE(d.start());
  auto c = d.connect("tools");
  auto shown = c.show_session(session);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  ASSERT_EQ(shown->messages_size(), 4) << shown->DebugString();
  EXPECT_EQ(shown->messages(1).role(), v1::ROLE_MODEL);
  ASSERT_EQ(shown->messages(1).tool_calls_size(), 1);
  EXPECT_EQ(shown->messages(1).tool_calls(0).name(), "get_weather");
  EXPECT_EQ(shown->messages(2).role(), v1::ROLE_TOOL);
  EXPECT_EQ(shown->messages(2).tool_name(), "get_weather");
  EXPECT_EQ(shown->messages(2).text(), R"({"temp_c":15,"sky":"clear"})");
  EXPECT_EQ(shown->messages(3).role(), v1::ROLE_MODEL);
}

TEST(Tools, AJsonSchemaReplyParsesAndValidates) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("json");
  for (uint64_t seed : {1u, 2u, 3u}) {
    v1::ChatRequest r = base("Give me a city.");
    r.mutable_sampling()->set_seed(seed);
    r.mutable_sampling()->set_max_tokens(200);
    r.mutable_response_format()->set_type(v1::RESPONSE_FORMAT_JSON_SCHEMA);
    r.mutable_response_format()->set_schema_json(kWeatherSchema);
    std::string streamed;
    auto done = c.chat(r, [&](const v1::Token& t) { streamed += t.text(); });
    ASSERT_TRUE(done.ok()) << done.error().message << d.log();
    ASSERT_EQ(done->stop_reason(), v1::STOP_REASON_STOP_TOKEN) << done->DebugString();
    const auto v = nlohmann::json::parse(streamed, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << streamed;
    EXPECT_TRUE(v["city"].is_string()) << streamed;
    EXPECT_TRUE(v["days"].is_number_integer()) << streamed;
    EXPECT_EQ(v.size(), 2u) << streamed;
  }
}

TEST(Tools, AThinkingTurnKeepsItsThoughtsOutOfTheAnswerAndTheHistory) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("think");
  v1::ChatRequest r = base("Think, then answer.");
  r.set_thinking(true);
  r.set_thinking_budget(5);
  r.mutable_sampling()->set_max_tokens(24);
  std::string thought, answer;
  auto done = c.chat(r, [&](const v1::Token& t) {
    (t.channel() == v1::CHANNEL_THOUGHT ? thought : answer) += t.text();
    EXPECT_EQ(t.text().find("<|channel>"), std::string::npos);
    EXPECT_EQ(t.text().find("<channel|>"), std::string::npos);
  });
  ASSERT_TRUE(done.ok()) << done.error().message << d.log();
  EXPECT_FALSE(thought.empty());
  EXPECT_EQ(done->reasoning(), thought);
  auto shown = c.show_session(done->session_id());
  ASSERT_TRUE(shown.ok());
  ASSERT_EQ(shown->messages_size(), 2);
  EXPECT_EQ(shown->messages(1).text().find(thought), thought.empty() ? 0u : std::string::npos)
      << shown->messages(1).text();
  EXPECT_EQ(shown->messages(1).text().find("<|channel>"), std::string::npos);
}

TEST(Tools, BadDeclarationsAreRefusedByNameAndTheDaemonStaysUp) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("bad");
  v1::ChatRequest r = base("hi");
  add_weather_tool(r);
  r.mutable_tools(0)->set_name("bad name");
  auto done = c.chat(r, [](const v1::Token&) {});
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().message.find("tools[0].name"), std::string::npos) << done.error().message;
  v1::ChatRequest r2 = base("hi");
  r2.mutable_response_format()->set_type(v1::RESPONSE_FORMAT_JSON_SCHEMA);
  r2.mutable_response_format()->set_schema_json(R"({"type":"object","format":"x"})");
  done = c.chat(r2, [](const v1::Token&) {});
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().message.find("format"), std::string::npos) << done.error().message;
  auto ok = c.chat(base("still here?"), [](const v1::Token&) {});
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

}  // namespace
}  // namespace gemmad::testing
