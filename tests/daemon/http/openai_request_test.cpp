// OpenAI request bodies: accepted shapes, ignored unknown fields, errors naming the field.
#include "daemon/http/openai_request.h"

#include <gtest/gtest.h>

#include "daemon/http/openai_response.h"

namespace gemmad::http {
namespace {

std::string error_of(std::string_view body, bool chat = true) {
  auto r = chat ? parse_chat_request(body) : parse_completion_request(body);
  return r.ok() ? std::string("(accepted)") : r.error().message;
}

TEST(AChatRequest, TakesStringAndTextPartContentAndEveryKnownField) {
  auto r = parse_chat_request(R"({
    "model": "tiny", "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]},
      {"role": "assistant", "content": null, "tool_calls": []},
      {"role": "user", "content": "Again"}],
    "max_tokens": 7, "max_completion_tokens": 9, "temperature": 0, "top_p": 0.5, "seed": 42,
    "stop": ["\n\n", ""], "n": 1, "stream": true, "stream_options": {"include_usage": true},
    "frequency_penalty": 0, "user": "someone", "unknown_future_field": {"x": [1, 2]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "Hello");
  EXPECT_EQ(r->messages[2].role, "assistant");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->model, "tiny");
  EXPECT_EQ(r->max_tokens, 9);  // max_completion_tokens wins
  EXPECT_EQ(r->temperature, 0.0f);
  EXPECT_EQ(r->top_p, 0.5f);
  EXPECT_EQ(r->seed, 42u);
  EXPECT_EQ(r->stop, std::vector<std::string>{"\n\n"});  // empty strings are dropped
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
}

TEST(AChatRequest, WithWrongTypesIsAnErrorNamingTheField) {
  EXPECT_EQ(error_of("{\"messages\": [}"), "the request body is not valid JSON");
  EXPECT_EQ(error_of("[1]"), "the request body must be a JSON object");
  EXPECT_EQ(error_of(R"({"messages": "hi"})"), "'messages' must be an array of messages");
  EXPECT_EQ(error_of(R"({"messages": []})"), "'messages' must hold at least one message");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": 5}]})"),
            "'messages[0].content' must be a string or an array of text parts");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "bot", "content": "x"}]})"),
            "'messages[0].role' \"bot\" is not one of: system, developer, user, assistant, tool");
  EXPECT_EQ(error_of(R"({"messages": [{"role": "user"}]})"),
            "'messages[0].content' is required for role user");
  const std::string ok_messages = R"("messages": [{"role": "user", "content": "x"}])";
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "max_tokens": "5"})"),
            "'max_tokens' must be an integer, not \"5\"");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "max_tokens": 0})"),
            "'max_tokens' is 0; it must be in [1, 1048576]");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "temperature": 3})"),
            "'temperature' is 3; it must be in [0.0, 2.0]");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "top_p": 0})"),
            "'top_p' is 0; it must be in (0.0, 1.0]");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "stream": "yes"})"),
            "'stream' must be true or false, not \"yes\"");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "stop": ["a", "b", "c", "d", "e"]})"),
            "'stop' has 5 strings; at most 4");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "stop": [1]})"), "'stop[0]' must be a string, not 1");
  EXPECT_EQ(error_of("{" + ok_messages + R"(, "model": 3})"), "'model' must be a string, not 3");
}

TEST(AChatRequest, AskingForWhatGemmadLacksIsUnsupported) {
  auto n = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "n": 2})");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, ErrorCode::kUnsupported);
  auto image =
      parse_chat_request(R"({"messages": [{"role": "user", "content": [{"type": "input_audio",)"
                         R"( "input_audio": {"data": "", "format": "mp3"}}]}]})");
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(api_error(image.error()).status, 400);
}

TEST(ACompletionRequest, TakesAStringPromptAndDefaultsTo16Tokens) {
  auto r = parse_completion_request(R"({"prompt": ["Once upon"], "seed": -1})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prompt, "Once upon");
  EXPECT_EQ(r->max_tokens, 16);
  EXPECT_EQ(r->seed, ~uint64_t{0});
  EXPECT_EQ(error_of(R"({"model": "x"})", false), "'prompt' is required");
  EXPECT_EQ(parse_completion_request(R"({"prompt": [1, 2, 3]})").error().code,
            ErrorCode::kUnsupported);
}

TEST(ServiceErrors, MapToOpenAiStatusCodes) {
  EXPECT_EQ(api_error(make_error(ErrorCode::kInvalidArgument, "x")).status, 400);
  EXPECT_EQ(api_error(make_error(ErrorCode::kNotFound, "x")).status, 404);
  EXPECT_EQ(api_error(make_error(ErrorCode::kResourceExhausted, "x")).status, 429);
  EXPECT_EQ(api_error(make_error(ErrorCode::kCancelled, "x")).status, 503);
  EXPECT_EQ(error_body(api_error(404, "model_not_found", "no model 'x'")),
            R"({"error":{"code":"model_not_found","message":"no model 'x'",)"
            R"("param":null,"type":"not_found_error"}})");
}

// Media content parts (issue 11): image_url with a data: URL, input_audio with base64 WAV.
TEST(AChatRequest, TakesImageAndAudioPartsInPlace) {
  auto r = parse_chat_request(
      R"({"messages": [{"role": "user", "content": [)"
      R"({"type": "text", "text": "What is "},)"
      R"({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0=", "detail": "low"}},)"
      R"({"type": "text", "text": " and "},)"
      R"({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ChatMessage& m = r->messages[0];
  EXPECT_EQ(m.content, "What is  and ");
  ASSERT_EQ(m.media.size(), 2u);
  EXPECT_EQ(m.media[0].kind, ContentMedia::Kind::kImage);
  EXPECT_EQ(m.media[0].mime, "image/png");
  EXPECT_EQ(m.media[0].data, (std::vector<uint8_t>{0x89, 'P', 'N', 'G', 0x0d}));
  EXPECT_EQ(m.media[0].text_offset, 8u);
  EXPECT_EQ(m.media[0].token_budget, 70u);
  EXPECT_EQ(m.media[1].kind, ContentMedia::Kind::kAudio);
  EXPECT_EQ(m.media[1].data, (std::vector<uint8_t>{'R', 'I', 'F', 'F'}));
  EXPECT_EQ(m.media[1].text_offset, 13u);
}

TEST(AChatRequest, RefusesRemoteImageUrlsAndBadMediaNamingTheField) {
  auto part = [](const std::string& json) {
    auto r = parse_chat_request(R"({"messages": [{"role": "user", "content": [)" + json + "]}]}");
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_NE(part(R"({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}})")
                .find("'messages[0].content[0].image_url.url' \"https://example.com/a.png\" is "
                      "not a data: URL; gemmad has no network"),
            std::string::npos);
  EXPECT_NE(part(R"({"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}})")
                .find("image/png or image/jpeg only"),
            std::string::npos);
  EXPECT_NE(part(R"({"type": "image_url", "image_url": {"url": "data:image/png;base64,*bad"}})")
                .find("is not base64"),
            std::string::npos);
  EXPECT_NE(
      part(
          R"({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "max"}})")
          .find("'messages[0].content[0].image_url.detail' \"max\" is not one of"),
      std::string::npos);
  EXPECT_NE(part(R"({"type": "input_audio", "input_audio": {"format": "wav"}})")
                .find("'messages[0].content[0].input_audio.data' must be a string"),
            std::string::npos);
  auto system = parse_chat_request(
      R"({"messages": [{"role": "system", "content": [{"type": "input_audio", "input_audio": )"
      R"({"data": "", "format": "wav"}}]}, {"role": "user", "content": "x"}]})");
  ASSERT_FALSE(system.ok());
  EXPECT_NE(system.error().message.find("media go in user messages"), std::string::npos);
}

TEST(AChatRequest, TakesToolsToolChoiceResponseFormatAndThinking) {
  auto r = parse_chat_request(R"({
    "messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 15}"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
               "parameters": {"type": "object"}}}, {"function": {"name": "noargs"}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "response_format": {"type": "json_schema", "json_schema": {"name": "x",
                        "schema": {"type": "integer"}, "strict": false}},
    "chat_template_kwargs": {"enable_thinking": true}, "thinking_budget": 32})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->tools.size(), 2u);
  EXPECT_EQ(r->tools[0].name, "get_weather");
  EXPECT_EQ(r->tools[0].parameters_json, R"({"type":"object"})");
  EXPECT_EQ(r->tools[1].parameters_json, "");
  EXPECT_EQ(r->tool_choice.mode, ToolChoiceField::Mode::kFunction);
  EXPECT_EQ(r->tool_choice.function, "get_weather");
  EXPECT_EQ(r->response_format.type, ResponseFormatField::Type::kJsonSchema);
  EXPECT_EQ(r->response_format.schema_json, R"({"type":"integer"})");
  EXPECT_FALSE(r->response_format.strict);
  EXPECT_TRUE(r->thinking);
  EXPECT_EQ(r->thinking_budget, 32u);
  ASSERT_EQ(r->messages[1].tool_calls.size(), 1u);
  EXPECT_EQ(r->messages[1].tool_calls[0].id, "call_1");
  EXPECT_EQ(r->messages[1].tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(r->messages[2].role, "tool");
  EXPECT_EQ(r->messages[2].tool_call_id, "call_1");

  auto t = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
    "tool_choice": "required", "response_format": {"type": "json_object"},
    "thinking": {"type": "enabled", "budget_tokens": 8}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->tool_choice.mode, ToolChoiceField::Mode::kRequired);
  EXPECT_EQ(t->response_format.type, ResponseFormatField::Type::kJsonObject);
  EXPECT_TRUE(t->thinking);
  EXPECT_EQ(t->thinking_budget, 8u);
  auto off =
      parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "thinking": false})");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->thinking);
}

TEST(AChatRequest, WithBadToolFieldsIsAnErrorNamingTheField) {
  const std::string user = R"("messages": [{"role": "user", "content": "x"}])";
  auto with = [&](const std::string& fields) { return error_of("{" + user + ", " + fields + "}"); };
  EXPECT_NE(with(R"("tool_choice": "always")").find("'tool_choice' \"always\" is not one of"),
            std::string::npos);
  EXPECT_NE(with(R"("tool_choice": 3)").find("'tool_choice' must be"), std::string::npos);
  EXPECT_NE(with(R"("tool_choice": {"type": "function", "function": {}})")
                .find("'tool_choice.function.name' is required"),
            std::string::npos);
  EXPECT_NE(with(R"("response_format": {"type": "yaml"})")
                .find("'response_format.type' \"yaml\" is not one of"),
            std::string::npos);
  EXPECT_NE(with(R"("response_format": {"type": "json_schema"})")
                .find("'response_format.json_schema' must be an object"),
            std::string::npos);
  EXPECT_NE(with(R"("tools": [{"type": "retrieval", "function": {"name": "a"}}])")
                .find("'tools[0].type' \"retrieval\" is not \"function\""),
            std::string::npos);
  EXPECT_NE(with(R"("tools": [{"type": "function", "function": {"name": "a", "parameters": 1}}])")
                .find("'tools[0].function.parameters' must be a JSON Schema object"),
            std::string::npos);
  EXPECT_NE(with(R"("thinking": "yes")").find("'thinking' must be"), std::string::npos);
  EXPECT_NE(with(R"("thinking_budget": -1)").find("'thinking_budget' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [{"role": "tool", "content": "1"}]})")
                .find("'messages[0].tool_call_id' is required"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [{"role": "assistant", "tool_calls": [{"type": "function",
                "function": {"name": "f", "arguments": "not json"}}]}]})")
                .find("'messages[0].tool_calls[0].function.arguments' must be a JSON object"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"messages": [{"role": "user", "content": "x", "tool_calls": []}]})")
                .find("only allowed in assistant messages"),
            std::string::npos);
}

TEST(AChatReply, CarriesToolCallsReasoningAndAnInvalidCallsRawText) {
  const ResponseHead head{"chatcmpl-1", 0, "tiny"};
  ChatReply calls;
  calls.reasoning = "hmm";
  calls.tool_calls.push_back({"call_1", "get_weather", R"({"city":"Paris"})"});
  const std::string body = chat_completion_body(head, calls, "tool_calls", {});
  EXPECT_NE(body.find(R"("content":null)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("reasoning_content":"hmm")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("arguments":"{\"city\":\"Paris\"}")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("finish_reason":"tool_calls")"), std::string::npos) << body;
  ChatReply invalid;
  invalid.text = "So: ";
  invalid.raw_tool_call = "call:f{x";
  invalid.tool_call_error = "unclosed";
  const std::string bad = chat_completion_body(head, invalid, "tool_call_invalid", {});
  EXPECT_NE(bad.find(R"("content":"So: call:f{x")"), std::string::npos) << bad;
  EXPECT_NE(bad.find(R"("tool_call_error":"unclosed")"), std::string::npos) << bad;
  const auto chunks = chat_tool_call_chunk_bodies(head, 0, calls.tool_calls[0]);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_NE(chunks[0].find(R"("name":"get_weather")"), std::string::npos) << chunks[0];
  EXPECT_NE(chunks[1].find(R"("arguments":"{\"city\":\"Paris\"}")"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::http
