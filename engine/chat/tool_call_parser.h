// A strict parser of the model's tool call `call:NAME{key:value,...}` (the text between
// `<|tool_call>` and `<tool_call|>`, docs/GEMMA4.md §5.4 "Tool syntax") into the function's
// name and its arguments as a JSON object. Nothing is repaired: a call that does not follow
// the syntax is an error saying where and why, so the front-end reports the raw text.
#pragma once

#include <string_view>

#include "chat/chat_format.h"
#include "common/result.h"

namespace gemmad::chat {

inline constexpr size_t kMaxToolCallDepth = 64;

// `text`: e.g. `call:get_weather{city:<|"|>Paris<|"|>,days:3}`. Whitespace is allowed between
// tokens of the syntax (not inside keys, numbers or the `call:NAME` head). Errors
// (kInvalidArgument) give the byte offset.
Result<ToolCall> parse_tool_call(std::string_view text);

// A value in the tool syntax (an object, array, string, number, true, false, null) -> JSON.
Result<std::string> gemma_value_to_json(std::string_view text);

}  // namespace gemmad::chat
