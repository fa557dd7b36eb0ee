// OpenAI-shaped JSON bodies (see openai_response.h).
#include "daemon/http/openai_response.h"

#include <nlohmann/json.hpp>

namespace gemmad::http {
namespace {

using Json = nlohmann::json;

// Generated text may hold invalid UTF-8 only through a bug; replace rather than throw.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json usage_json(const Usage& u) {
  return Json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_tokens_details", Json{{"cached_tokens", u.cached_tokens}}}};
}

Json reason_json(std::string_view finish_reason) {
  return finish_reason.empty() ? Json(nullptr) : Json(std::string(finish_reason));
}

Json head_json(const ResponseHead& h, const char* object) {
  return Json{{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

// A text completion (whole or one chunk): one choice of text.
Json completion_json(const ResponseHead& h, std::string_view text, std::string_view reason) {
  Json j = head_json(h, "text_completion");
  j["choices"] = Json::array({Json{{"index", 0},
                                   {"text", std::string(text)},
                                   {"logprobs", nullptr},
                                   {"finish_reason", reason_json(reason)}}});
  return j;
}

// A chat stream chunk of one choice with `delta` and no finish_reason.
Json delta_chunk_json(const ResponseHead& h, Json delta) {
  Json j = head_json(h, "chat.completion.chunk");
  j["choices"] = Json::array({Json{{"index", 0},
                                   {"delta", std::move(delta)},
                                   {"logprobs", nullptr},
                                   {"finish_reason", nullptr}}});
  return j;
}

// The last chunk of a stream with stream_options.include_usage: no choices, the usage.
Json usage_only_json(const ResponseHead& h, const char* object, const Usage& u) {
  Json j = head_json(h, object);
  j["choices"] = Json::array();
  j["usage"] = usage_json(u);
  return j;
}

}  // namespace

ApiError api_error(int status, std::string code, std::string message) {
  ApiError e;
  e.status = status;
  e.code = std::move(code);
  e.message = std::move(message);
  if (status == 404) e.type = "not_found_error";
  if (status == 429) e.type = "rate_limit_error";
  if (status >= 500) e.type = status == 503 ? "service_unavailable" : "server_error";
  return e;
}

ApiError api_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return api_error(400, "invalid_request", e.message);
    case ErrorCode::kUnsupported:
      return api_error(400, "unsupported", e.message);
    case ErrorCode::kNotFound:
      return api_error(404, "not_found", e.message);
    case ErrorCode::kResourceExhausted:
      return api_error(429, "busy", e.message);
    case ErrorCode::kPermissionDenied:
      return api_error(403, "permission_denied", e.message);
    case ErrorCode::kCancelled:
      return api_error(503, "shutting_down", e.message);
    case ErrorCode::kBadModelFile:
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      return api_error(500, "internal", e.message);
  }
  return api_error(500, "internal", e.message);
}

std::string error_body(const ApiError& e) {
  return dump(Json{{"error", Json{{"message", e.message},
                                  {"type", e.type},
                                  {"param", nullptr},
                                  {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}}}});
}

std::string chat_completion_body(const ResponseHead& h, const ChatReply& reply,
                                 std::string_view finish_reason, const Usage& u) {
  Json message{{"role", "assistant"}};
  std::string content = reply.text + reply.raw_tool_call;
  if (content.empty() && !reply.tool_calls.empty()) {
    message["content"] = nullptr;  // as OpenAI sends a message that only calls tools
  } else {
    message["content"] = std::move(content);
  }
  if (!reply.reasoning.empty()) message["reasoning_content"] = reply.reasoning;
  if (!reply.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ReplyToolCall& c : reply.tool_calls) {
      calls.push_back(Json{{"id", c.id},
                           {"type", "function"},
                           {"function", Json{{"name", c.name}, {"arguments", c.arguments_json}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  if (!reply.tool_call_error.empty()) message["tool_call_error"] = reply.tool_call_error;
  Json j = head_json(h, "chat.completion");
  j["choices"] = Json::array({Json{{"index", 0},
                                   {"message", std::move(message)},
                                   {"logprobs", nullptr},
                                   {"finish_reason", reason_json(finish_reason)}}});
  j["usage"] = usage_json(u);
  return dump(j);
}

std::string chat_chunk_body(const ResponseHead& h, bool role_chunk, std::string_view text,
                            std::string_view finish_reason) {
  Json delta = Json::object();
  if (role_chunk) delta["role"] = "assistant";
  if (!text.empty() || role_chunk) delta["content"] = std::string(text);
  Json j = head_json(h, "chat.completion.chunk");
  j["choices"] = Json::array({Json{{"index", 0},
                                   {"delta", delta},
                                   {"logprobs", nullptr},
                                   {"finish_reason", reason_json(finish_reason)}}});
  return dump(j);
}

std::string chat_usage_chunk_body(const ResponseHead& h, const Usage& u) {
  return dump(usage_only_json(h, "chat.completion.chunk", u));
}

std::string chat_reasoning_chunk_body(const ResponseHead& h, std::string_view reasoning) {
  return dump(delta_chunk_json(h, Json{{"reasoning_content", std::string(reasoning)}}));
}

std::vector<std::string> chat_tool_call_chunk_bodies(const ResponseHead& h, size_t index,
                                                     const ReplyToolCall& call) {
  const Json head{{"index", index},
                  {"id", call.id},
                  {"type", "function"},
                  {"function", Json{{"name", call.name}, {"arguments", ""}}}};
  const Json args{{"index", index}, {"function", Json{{"arguments", call.arguments_json}}}};
  return {dump(delta_chunk_json(h, Json{{"tool_calls", Json::array({head})}})),
          dump(delta_chunk_json(h, Json{{"tool_calls", Json::array({args})}}))};
}

std::string chat_invalid_call_chunk_body(const ResponseHead& h, std::string_view raw,
                                         std::string_view error) {
  return dump(delta_chunk_json(
      h, Json{{"content", std::string(raw)}, {"tool_call_error", std::string(error)}}));
}

std::string completion_body(const ResponseHead& h, std::string_view text,
                            std::string_view finish_reason, const Usage& u) {
  Json j = completion_json(h, text, finish_reason);
  j["usage"] = usage_json(u);
  return dump(j);
}

std::string completion_chunk_body(const ResponseHead& h, std::string_view text,
                                  std::string_view finish_reason) {
  return dump(completion_json(h, text, finish_reason));
}

std::string completion_usage_chunk_body(const ResponseHead& h, const Usage& u) {
  return dump(usage_only_json(h, "text_completion", u));
}

std::string models_body(const std::vector<ModelEntry>& models) {
  Json data = Json::array();
  for (const ModelEntry& m : models) {
    data.push_back(
        Json{{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", "gemmad"}});
  }
  return dump(Json{{"object", "list"}, {"data", data}});
}

std::string sse_event(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out += "data: ";
  out += json;
  out += "\n\n";
  return out;
}

}  // namespace gemmad::http
