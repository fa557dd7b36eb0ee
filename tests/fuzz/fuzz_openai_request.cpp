// libFuzzer target for the OpenAI request bodies of the HTTP front-end: arbitrary bytes through
// parse_chat_request and parse_completion_request, as POST /v1/chat/completions and
// /v1/completions read them. A rejected body must say why; an accepted one must hold the
// documented ranges, and its texts must render into response bodies without throwing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/http/openai_request.h"
#include "daemon/http/openai_response.h"

namespace {

using namespace gemmad::http;

void check(const gemmad::Result<OpenAiRequest>& r) {
  if (!r.ok()) {
    if (r.error().message.empty()) __builtin_trap();
    if (error_body(api_error(r.error())).empty()) __builtin_trap();
    return;
  }
  if (r->kind == OpenAiRequest::Kind::kChat && r->messages.empty()) __builtin_trap();
  if (r->stop.size() > kMaxStops) __builtin_trap();
  for (const auto& s : r->stop)
    if (s.empty()) __builtin_trap();
  if (r->max_tokens && (*r->max_tokens < 1 || *r->max_tokens > kMaxTokensLimit)) __builtin_trap();
  if (r->temperature && !(*r->temperature >= 0 && *r->temperature <= 2)) __builtin_trap();
  if (r->top_p && !(*r->top_p > 0 && *r->top_p <= 1)) __builtin_trap();
  ResponseHead head{"chatcmpl-1", 0, r->model};
  ChatReply reply;
  for (const ChatMessage& m : r->messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
      __builtin_trap();
    }
    if (!m.tool_calls.empty() && m.role != "assistant") __builtin_trap();
    for (const MessageToolCall& c : m.tool_calls) {
      // Arguments are re-dumped from a parsed object: always an object text.
      if (c.arguments_json.empty() || c.arguments_json.front() != '{') __builtin_trap();
      reply.tool_calls.push_back({c.id, c.name, c.arguments_json});
      (void)chat_tool_call_chunk_bodies(head, 0, reply.tool_calls.back());
    }
    (void)chat_chunk_body(head, false, m.content, "");
    (void)chat_reasoning_chunk_body(head, m.content);
  }
  for (const ToolDecl& t : r->tools) {
    if (!t.parameters_json.empty() && t.parameters_json.front() != '{') __builtin_trap();
  }
  if (r->response_format.type == ResponseFormatField::Type::kJsonSchema &&
      r->response_format.schema_json.empty()) {
    __builtin_trap();
  }
  if (r->thinking_budget && *r->thinking_budget > static_cast<uint32_t>(kMaxTokensLimit)) {
    __builtin_trap();
  }
  (void)chat_completion_body(head, reply, "tool_calls", Usage{});
  (void)completion_body(head, r->prompt, "stop", Usage{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(parse_chat_request(body));
  check(parse_completion_request(body));
  return 0;
}
