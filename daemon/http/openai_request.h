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

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant" ("developer" is read as "system")
  std::string content;
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
};

inline constexpr size_t kMaxStops = 4;
inline constexpr int32_t kMaxTokensLimit = 1 << 20;

// Error kInvalidArgument (malformed JSON, wrong type, bad value) or kUnsupported (a valid
// OpenAI feature gemmad does not offer: n > 1, image parts, token-id prompts).
Result<OpenAiRequest> parse_chat_request(std::string_view body);
Result<OpenAiRequest> parse_completion_request(std::string_view body);

}  // namespace gemmad::http
