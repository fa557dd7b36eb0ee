// OpenAI-shaped JSON response bodies: error objects, chat completions and their stream
// chunks, text completions, the model list. Pure functions of their inputs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gemmad::http {

// An error the client gets as {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string code;  // empty: null
  std::string message;
};

// The HTTP status for a service error: 400 bad request, 404 not found (unknown model),
// 429 busy, 503 shutting down / cancelled, 413 too large, 500 anything else.
ApiError api_error(const Error& e);
ApiError api_error(int status, std::string code, std::string message);
std::string error_body(const ApiError& e);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

// What one generated choice is: the text and why it ended ("stop" | "length").
struct ResponseHead {
  std::string id;  // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;
  std::string model;
};

// A tool call of the reply: `arguments_json` is sent as function.arguments, a JSON string.
struct ReplyToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;
};

// The message of a chat completion. With tool calls and no text, content is null. A call
// that did not parse (finish_reason "tool_call_invalid") is in content as the model wrote it,
// the parser's complaint in message.tool_call_error (docs: README "Tools, JSON output and
// thinking").
struct ChatReply {
  std::string text;
  std::string reasoning;  // message.reasoning_content (left out when empty)
  std::vector<ReplyToolCall> tool_calls;
  std::string raw_tool_call;
  std::string tool_call_error;
};

std::string chat_completion_body(const ResponseHead& h, const ChatReply& reply,
                                 std::string_view finish_reason, const Usage& u);
// One SSE chunk of a streamed chat completion. `role_chunk` sends {"role": "assistant"};
// an empty finish_reason is null. `usage` (if given) is the final usage-only chunk.
std::string chat_chunk_body(const ResponseHead& h, bool role_chunk, std::string_view text,
                            std::string_view finish_reason);
std::string chat_usage_chunk_body(const ResponseHead& h, const Usage& u);
// A streamed piece of the thought channel: delta.reasoning_content.
std::string chat_reasoning_chunk_body(const ResponseHead& h, std::string_view reasoning);
// A parsed call as two chunks of delta.tool_calls[0] with `index`: the first holds id, type
// and function.name (arguments ""), the second function.arguments.
std::vector<std::string> chat_tool_call_chunk_bodies(const ResponseHead& h, size_t index,
                                                     const ReplyToolCall& call);
// A call that did not parse: its raw text as delta.content and delta.tool_call_error.
std::string chat_invalid_call_chunk_body(const ResponseHead& h, std::string_view raw,
                                         std::string_view error);

std::string completion_body(const ResponseHead& h, std::string_view text,
                            std::string_view finish_reason, const Usage& u);
std::string completion_chunk_body(const ResponseHead& h, std::string_view text,
                                  std::string_view finish_reason);
std::string completion_usage_chunk_body(const ResponseHead& h, const Usage& u);

struct ModelEntry {
  std::string id;
  int64_t created = 0;
};
std::string models_body(const std::vector<ModelEntry>& models);

// "data: <json>\n\n": one Server-Sent Event; kSseDone ends an OpenAI stream.
std::string sse_event(std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace gemmad::http
