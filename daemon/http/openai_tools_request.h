// The tool, response-format and thinking fields of an OpenAI chat request, and the tool
// parts of its messages (role "tool", assistant "tool_calls"). Used by openai_request.cpp;
// same rules: a wrong type or value is an error naming the field; no exceptions escape.
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "daemon/http/openai_request.h"

namespace gemmad::http {

// tools, tool_choice, response_format, thinking, chat_template_kwargs, thinking_budget.
Status parse_tool_fields(const nlohmann::json& doc, OpenAiRequest& r);

// The "tool_calls" of an assistant message and the "tool_call_id" / "name" of a tool
// message at `at` ("messages[3]").
Status parse_message_tool_fields(const nlohmann::json& m, const std::string& at, ChatMessage& msg);

}  // namespace gemmad::http
