// Parsing and validating OpenAI-style request bodies (POST /v1/chat/completions and
// /v1/completions) into transport-free values. Unknown fields are ignored, as OpenAI-compatible
// servers do; a known field of the wrong type or out of range is an error naming the field,
// the value and the limit. No exceptions escape (bodies come from a socket).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gemmad::http {

// An image_url (data: URL only) or input_audio (base64 WAV) content part of a user message.
struct ContentMedia {
  enum class Kind { kImage, kAudio };
  Kind kind = Kind::kImage;
  std::string mime;           // "image/png", "image/jpeg" (from the data: URL), "audio/wav"
  std::vector<uint8_t> data;  // decoded from base64; the daemon checks the media.* limits
  uint32_t text_offset = 0;   // its place: bytes of the message's text parts before it
  uint32_t token_budget = 0;  // image_url.detail: "low" 70, "high" 1120, "auto"/none 0 (280)
};

// A call an assistant message of the history made: function.arguments is a JSON object text.
struct MessageToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;
};

struct ChatMessage {
  // "system" | "user" | "assistant" | "tool" ("developer" is read as "system")
  std::string role;
  std::string content;
  std::vector<ContentMedia> media;          // user messages only, in content order
  std::vector<MessageToolCall> tool_calls;  // assistant: the calls it made
  std::string tool_call_id;                 // tool: the call this result answers
  std::string name;                         // tool: the function (optional; found from the id)
};

// tools[i]: {"type": "function", "function": {"name", "description", "parameters"}}.
struct ToolDecl {
  std::string name;
  std::string description;
  std::string parameters_json;  // "" = any object
};

// tool_choice: "auto" | "none" | "required" | {"type": "function", "function": {"name"}}.
struct ToolChoiceField {
  enum class Mode { kAuto, kNone, kRequired, kFunction };
  Mode mode = Mode::kAuto;
  std::string function;
};

// response_format: {"type": "text" | "json_object" | "json_schema", "json_schema": {...}}.
struct ResponseFormatField {
  enum class Type { kText, kJsonObject, kJsonSchema };
  Type type = Type::kText;
  std::string schema_json;  // kJsonSchema: json_schema.schema
  bool strict = true;       // json_schema.strict (the grammar enforces the schema either way)
};

struct OpenAiRequest {
  enum class Kind { kChat, kCompletion };
  Kind kind = Kind::kChat;
  std::string model;                  // empty: the daemon's first model
  std::vector<ChatMessage> messages;  // kChat: at least one
  std::string prompt;                 // kCompletion
  std::optional<int32_t> max_tokens;  // max_completion_tokens wins over max_tokens
  std::optional<float> temperature;   // [0, 2]
  std::optional<float> top_p;         // (0, 1]
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  // at most kMaxStops non-empty strings
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Chat only (docs/HTTP.md "Tools, JSON output and thinking").
  std::vector<ToolDecl> tools;
  ToolChoiceField tool_choice;
  ResponseFormatField response_format;
  // chat_template_kwargs.enable_thinking (llama-server), or "thinking": true | false |
  // {"type": "enabled" | "disabled", "budget_tokens": N}.
  bool thinking = false;
  std::optional<uint32_t> thinking_budget;  // "thinking_budget": N, or thinking.budget_tokens
};

inline constexpr size_t kMaxStops = 4;
inline constexpr int32_t kMaxTokensLimit = 1 << 20;

// Error kInvalidArgument (malformed JSON, wrong type, bad value) or kUnsupported (a valid
// OpenAI feature gemmad does not offer: n > 1, token-id prompts, remote image URLs, audio
// formats other than WAV, media outside user messages).
Result<OpenAiRequest> parse_chat_request(std::string_view body);
Result<OpenAiRequest> parse_completion_request(std::string_view body);

}  // namespace gemmad::http
