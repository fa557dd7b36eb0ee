// OpenAI request bodies to OpenAiRequest (see openai_request.h).
#include "daemon/http/openai_request.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "daemon/http/base64.h"
#include "daemon/http/openai_tools_request.h"

namespace gemmad::http {
namespace {

using Json = nlohmann::json;

Error bad(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "'" + field + "' " + what);
}

// A short rendering of a value for messages: never the whole body of a hostile client.
std::string shown(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

Result<Json> parse_object(std::string_view body) {
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return make_error(ErrorCode::kInvalidArgument, "the request body is not valid JSON");
  }
  if (!doc.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  return doc;
}

// Field present and not null.
const Json* field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Error unsupported(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kUnsupported, "'" + field + "' " + what);
}

Result<std::vector<uint8_t>> base64_field(const std::string& text, const std::string& at) {
  auto bytes = base64_decode(text);
  if (!bytes.ok()) return bad(at, "is not base64: " + bytes.error().message);
  return std::move(bytes).value();
}

// {"type": "image_url", "image_url": {"url": "data:image/png;base64,...", "detail": ...}}.
// The daemon has no network: a remote URL is refused, never fetched.
Result<ContentMedia> image_part(const Json& part, const std::string& at) {
  const Json* image = field(part, "image_url");
  if (!image || !image->is_object()) return bad(at + ".image_url", "must be an object with 'url'");
  const Json* url = field(*image, "url");
  if (!url || !url->is_string()) return bad(at + ".image_url.url", "must be a string");
  const std::string u = url->get<std::string>();
  if (!u.starts_with("data:")) {
    return bad(at + ".image_url.url",
               shown(*url) +
                   " is not a data: URL; gemmad has no network and fetches nothing: "
                   "send the image inline (data:image/png;base64,...)");
  }
  const size_t comma = u.find(',');
  const std::string head = u.substr(5, comma == std::string::npos ? 0 : comma - 5);
  if (comma == std::string::npos || !head.ends_with(";base64")) {
    return bad(at + ".image_url.url", "must be data:<mime>;base64,<data>");
  }
  ContentMedia m;
  m.kind = ContentMedia::Kind::kImage;
  m.mime = head.substr(0, head.size() - 7);
  if (m.mime == "image/jpg") m.mime = "image/jpeg";
  if (m.mime != "image/png" && m.mime != "image/jpeg") {
    return unsupported(at + ".image_url.url",
                       "MIME type '" + m.mime.substr(0, 40) + "': image/png or image/jpeg only");
  }
  GEMMAD_ASSIGN_OR_RETURN(m.data, base64_field(u.substr(comma + 1), at + ".image_url.url"));
  if (const Json* detail = field(*image, "detail")) {
    const std::string d = detail->is_string() ? detail->get<std::string>() : "";
    if (d == "low") {
      m.token_budget = 70;
    } else if (d == "high") {
      m.token_budget = 1120;
    } else if (d != "auto") {
      return bad(at + ".image_url.detail", shown(*detail) + " is not one of: low, high, auto");
    }
  }
  return m;
}

// {"type": "input_audio", "input_audio": {"data": "<base64>", "format": "wav"}}.
Result<ContentMedia> audio_part(const Json& part, const std::string& at) {
  const Json* audio = field(part, "input_audio");
  if (!audio || !audio->is_object()) {
    return bad(at + ".input_audio", "must be an object with 'data' and 'format'");
  }
  const Json* format = field(*audio, "format");
  if (!format || !format->is_string()) return bad(at + ".input_audio.format", "must be a string");
  if (format->get<std::string>() != "wav") {
    return unsupported(at + ".input_audio.format", shown(*format) + ": only \"wav\"");
  }
  const Json* data = field(*audio, "data");
  if (!data || !data->is_string()) return bad(at + ".input_audio.data", "must be a string");
  ContentMedia m;
  m.kind = ContentMedia::Kind::kAudio;
  m.mime = "audio/wav";
  GEMMAD_ASSIGN_OR_RETURN(m.data, base64_field(data->get<std::string>(), at + ".input_audio.data"));
  return m;
}

// A string, or an array of text / image_url / input_audio parts; media keep their place as
// the byte offset of the text before them.
Status message_content(const Json& v, const std::string& where, ChatMessage& msg) {
  if (v.is_string()) {
    msg.content = v.get<std::string>();
    return {};
  }
  if (!v.is_array()) return bad(where, "must be a string or an array of text parts");
  for (size_t i = 0; i < v.size(); ++i) {
    const Json& part = v[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) return bad(at, "must be an object {\"type\": \"text\", \"text\": ...}");
    const Json* type = field(part, "type");
    if (!type || !type->is_string()) return bad(at + ".type", "must be a string");
    const std::string t = type->get<std::string>();
    if (t == "image_url" || t == "input_audio") {
      if (msg.role != "user") {
        return unsupported(at + ".type", shown(*type) + " in a " + msg.role +
                                             " message; media go in user messages");
      }
      GEMMAD_ASSIGN_OR_RETURN(ContentMedia m,
                              t == "image_url" ? image_part(part, at) : audio_part(part, at));
      m.text_offset = static_cast<uint32_t>(msg.content.size());
      msg.media.push_back(std::move(m));
      continue;
    }
    if (t != "text") {
      return unsupported(at + ".type",
                         shown(*type) + " is not supported; text, image_url, input_audio only");
    }
    const Json* text = field(part, "text");
    if (!text || !text->is_string()) return bad(at + ".text", "must be a string");
    msg.content += text->get<std::string>();
  }
  return {};
}

Result<ChatMessage> parse_message(const Json& m, size_t i) {
  const std::string at = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) return bad(at, "must be an object with 'role' and 'content'");
  const Json* role = field(m, "role");
  if (!role || !role->is_string()) return bad(at + ".role", "must be a string");
  ChatMessage msg;
  msg.role = role->get<std::string>();
  if (msg.role == "developer") msg.role = "system";
  if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool") {
    return bad(at + ".role",
               shown(*role) + " is not one of: system, developer, user, assistant, tool");
  }
  GEMMAD_TRY(parse_message_tool_fields(m, at, msg));
  const Json* content = field(m, "content");
  if (!content) {
    // An assistant turn that only called tools has null content; nothing else may.
    if (msg.role == "assistant") return msg;
    return bad(at + ".content", "is required for role " + msg.role);
  }
  GEMMAD_TRY(message_content(*content, at + ".content", msg));
  return msg;
}

Status parse_number(const Json& obj, const char* name, double lo, double hi, bool lo_open,
                    std::optional<float>& out) {
  const Json* v = field(obj, name);
  if (!v) return {};
  if (!v->is_number()) return bad(name, "must be a number, not " + shown(*v));
  const double d = v->get<double>();
  if (!std::isfinite(d) || d > hi || (lo_open ? d <= lo : d < lo)) {
    return bad(name, "is " + shown(*v) + "; it must be in " + (lo_open ? "(" : "[") +
                         shown(Json(lo)) + ", " + shown(Json(hi)) + "]");
  }
  out = static_cast<float>(d);
  return {};
}

// Fields shared by both endpoints.
Result<OpenAiRequest> parse_common(const Json& doc, OpenAiRequest::Kind kind) {
  OpenAiRequest r;
  r.kind = kind;
  if (const Json* v = field(doc, "model")) {
    if (!v->is_string()) return bad("model", "must be a string, not " + shown(*v));
    r.model = v->get<std::string>();
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    const Json* v = field(doc, name);
    if (!v) continue;
    if (!v->is_number_integer()) return bad(name, "must be an integer, not " + shown(*v));
    const int64_t n = v->get<int64_t>();
    const bool in_range = v->is_number_unsigned()
                              ? v->get<uint64_t>() >= 1 && v->get<uint64_t>() <= kMaxTokensLimit
                              : n >= 1 && n <= kMaxTokensLimit;
    if (!in_range) {
      return bad(
          name, "is " + shown(*v) + "; it must be in [1, " + std::to_string(kMaxTokensLimit) + "]");
    }
    r.max_tokens = static_cast<int32_t>(n);  // max_completion_tokens (second) wins
  }
  GEMMAD_TRY(parse_number(doc, "temperature", 0.0, 2.0, false, r.temperature));
  GEMMAD_TRY(parse_number(doc, "top_p", 0.0, 1.0, true, r.top_p));
  if (const Json* v = field(doc, "seed")) {
    if (!v->is_number_integer()) return bad("seed", "must be an integer, not " + shown(*v));
    r.seed =
        v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
  }
  if (const Json* v = field(doc, "n")) {
    if (!v->is_number_integer()) return bad("n", "must be an integer, not " + shown(*v));
    if (v->get<int64_t>() != 1) {
      return make_error(ErrorCode::kUnsupported,
                        "'n' is " + shown(*v) + "; gemmad generates one choice (n = 1)");
    }
  }
  if (const Json* v = field(doc, "stop")) {
    std::vector<const Json*> items;
    if (v->is_string()) {
      items.push_back(v);
    } else if (v->is_array()) {
      if (v->size() > kMaxStops) {
        return bad("stop", "has " + std::to_string(v->size()) + " strings; at most " +
                               std::to_string(kMaxStops));
      }
      for (const Json& s : *v)
        items.push_back(&s);
    } else {
      return bad("stop", "must be a string or an array of strings");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i]->is_string()) {
        return bad("stop[" + std::to_string(i) + "]", "must be a string, not " + shown(*items[i]));
      }
      std::string s = items[i]->get<std::string>();
      if (!s.empty()) r.stop.push_back(std::move(s));
    }
  }
  if (const Json* v = field(doc, "stream")) {
    if (!v->is_boolean()) return bad("stream", "must be true or false, not " + shown(*v));
    r.stream = v->get<bool>();
  }
  if (const Json* v = field(doc, "stream_options")) {
    if (!v->is_object()) return bad("stream_options", "must be an object");
    if (const Json* u = field(*v, "include_usage")) {
      if (!u->is_boolean()) return bad("stream_options.include_usage", "must be true or false");
      r.include_usage = u->get<bool>();
    }
  }
  return r;
}

}  // namespace

Result<OpenAiRequest> parse_chat_request(std::string_view body) {
  GEMMAD_ASSIGN_OR_RETURN(Json doc, parse_object(body));
  GEMMAD_ASSIGN_OR_RETURN(OpenAiRequest r, parse_common(doc, OpenAiRequest::Kind::kChat));
  GEMMAD_TRY(parse_tool_fields(doc, r));
  const Json* messages = field(doc, "messages");
  if (!messages || !messages->is_array()) return bad("messages", "must be an array of messages");
  if (messages->empty()) return bad("messages", "must hold at least one message");
  for (size_t i = 0; i < messages->size(); ++i) {
    GEMMAD_ASSIGN_OR_RETURN(ChatMessage m, parse_message((*messages)[i], i));
    r.messages.push_back(std::move(m));
  }
  return r;
}

Result<OpenAiRequest> parse_completion_request(std::string_view body) {
  GEMMAD_ASSIGN_OR_RETURN(Json doc, parse_object(body));
  GEMMAD_ASSIGN_OR_RETURN(OpenAiRequest r, parse_common(doc, OpenAiRequest::Kind::kCompletion));
  const Json* prompt = field(doc, "prompt");
  if (!prompt) return bad("prompt", "is required");
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) prompt = &(*prompt)[0];
  if (!prompt->is_string()) {
    return make_error(ErrorCode::kUnsupported,
                      "'prompt' must be a string (or an array of one string); batches and token "
                      "ids are not supported");
  }
  r.prompt = prompt->get<std::string>();
  if (!r.max_tokens) r.max_tokens = 16;  // OpenAI's documented default for completions
  return r;
}

}  // namespace gemmad::http
