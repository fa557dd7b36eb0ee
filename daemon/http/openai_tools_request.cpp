// Tool, response-format and thinking fields of OpenAI chat requests (see openai_tools_request.h).
#include "daemon/http/openai_tools_request.h"

namespace gemmad::http {
namespace {

using Json = nlohmann::json;

Error bad(const std::string& field, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "'" + field + "' " + what);
}

std::string shown(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

const Json* field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> string_field(const Json& obj, const char* name, const std::string& at,
                                 bool required) {
  const Json* v = field(obj, name);
  if (!v) {
    if (required) return bad(at + "." + name, "is required");
    return std::string();
  }
  if (!v->is_string()) return bad(at + "." + name, "must be a string, not " + shown(*v));
  return v->get<std::string>();
}

// {"type": "function", "function": {...}}: the inner object (type may be left out).
Result<const Json*> function_object(const Json& v, const std::string& at) {
  if (!v.is_object()) return bad(at, "must be an object {\"type\": \"function\", ...}");
  if (const Json* type = field(v, "type")) {
    if (!type->is_string() || type->get<std::string>() != "function") {
      return bad(at + ".type", shown(*type) + " is not \"function\" (the only tool type)");
    }
  }
  const Json* fn = field(v, "function");
  if (!fn || !fn->is_object()) return bad(at + ".function", "must be an object with 'name'");
  return fn;
}

Status parse_tools(const Json& doc, OpenAiRequest& r) {
  const Json* tools = field(doc, "tools");
  if (!tools) return {};
  if (!tools->is_array()) return bad("tools", "must be an array of function declarations");
  for (size_t i = 0; i < tools->size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    GEMMAD_ASSIGN_OR_RETURN(const Json* fn, function_object((*tools)[i], at));
    ToolDecl t;
    GEMMAD_ASSIGN_OR_RETURN(t.name, string_field(*fn, "name", at + ".function", true));
    GEMMAD_ASSIGN_OR_RETURN(t.description,
                            string_field(*fn, "description", at + ".function", false));
    if (const Json* p = field(*fn, "parameters")) {
      if (!p->is_object()) {
        return bad(at + ".function.parameters", "must be a JSON Schema object, not " + shown(*p));
      }
      t.parameters_json = p->dump();
    }
    r.tools.push_back(std::move(t));
  }
  return {};
}

Status parse_tool_choice(const Json& doc, OpenAiRequest& r) {
  const Json* v = field(doc, "tool_choice");
  if (!v) return {};
  using Mode = ToolChoiceField::Mode;
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "auto") {
      r.tool_choice.mode = Mode::kAuto;
    } else if (s == "none") {
      r.tool_choice.mode = Mode::kNone;
    } else if (s == "required") {
      r.tool_choice.mode = Mode::kRequired;
    } else {
      return bad("tool_choice", shown(*v) +
                                    " is not one of: \"auto\", \"none\", \"required\", "
                                    "{\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    return {};
  }
  if (!v->is_object()) {
    return bad("tool_choice",
               "must be \"auto\", \"none\", \"required\" or an object, not " + shown(*v));
  }
  GEMMAD_ASSIGN_OR_RETURN(const Json* fn, function_object(*v, "tool_choice"));
  r.tool_choice.mode = Mode::kFunction;
  GEMMAD_ASSIGN_OR_RETURN(r.tool_choice.function,
                          string_field(*fn, "name", "tool_choice.function", true));
  return {};
}

Status parse_response_format(const Json& doc, OpenAiRequest& r) {
  const Json* v = field(doc, "response_format");
  if (!v) return {};
  if (!v->is_object()) return bad("response_format", "must be an object with 'type'");
  GEMMAD_ASSIGN_OR_RETURN(std::string type, string_field(*v, "type", "response_format", true));
  using Type = ResponseFormatField::Type;
  if (type == "text") {
    r.response_format.type = Type::kText;
    return {};
  }
  if (type == "json_object") {
    r.response_format.type = Type::kJsonObject;
    return {};
  }
  if (type != "json_schema") {
    return bad("response_format.type",
               shown(Json(type)) + " is not one of: \"text\", \"json_object\", \"json_schema\"");
  }
  r.response_format.type = Type::kJsonSchema;
  const Json* js = field(*v, "json_schema");
  if (!js || !js->is_object()) {
    return bad("response_format.json_schema", "must be an object with 'schema'");
  }
  const Json* schema = field(*js, "schema");
  if (!schema || !(schema->is_object() || schema->is_boolean())) {
    return bad("response_format.json_schema.schema", "must be a JSON Schema object");
  }
  r.response_format.schema_json = schema->dump();
  if (const Json* strict = field(*js, "strict")) {
    if (!strict->is_boolean()) {
      return bad("response_format.json_schema.strict", "must be true or false");
    }
    r.response_format.strict = strict->get<bool>();
  }
  return {};
}

Status parse_budget(const Json& v, const std::string& at, OpenAiRequest& r) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0) ||
      v.get<uint64_t>() > kMaxTokensLimit) {
    return bad(
        at, "must be an integer in [0, " + std::to_string(kMaxTokensLimit) + "], not " + shown(v));
  }
  r.thinking_budget = static_cast<uint32_t>(v.get<uint64_t>());
  return {};
}

Status parse_thinking(const Json& doc, OpenAiRequest& r) {
  if (const Json* kw = field(doc, "chat_template_kwargs")) {
    if (!kw->is_object()) return bad("chat_template_kwargs", "must be an object");
    if (const Json* on = field(*kw, "enable_thinking")) {
      if (!on->is_boolean()) {
        return bad("chat_template_kwargs.enable_thinking", "must be true or false");
      }
      r.thinking = on->get<bool>();
    }
  }
  if (const Json* t = field(doc, "thinking")) {
    if (t->is_boolean()) {
      r.thinking = t->get<bool>();
    } else if (t->is_object()) {
      GEMMAD_ASSIGN_OR_RETURN(std::string type, string_field(*t, "type", "thinking", true));
      if (type != "enabled" && type != "disabled") {
        return bad("thinking.type", shown(Json(type)) + " is not \"enabled\" or \"disabled\"");
      }
      r.thinking = type == "enabled";
      if (const Json* b = field(*t, "budget_tokens")) {
        GEMMAD_TRY(parse_budget(*b, "thinking.budget_tokens", r));
      }
    } else {
      return bad("thinking",
                 "must be true, false or {\"type\": \"enabled\", ...}, not " + shown(*t));
    }
  }
  if (const Json* b = field(doc, "thinking_budget")) {
    GEMMAD_TRY(parse_budget(*b, "thinking_budget", r));
  }
  return {};
}

}  // namespace

Status parse_tool_fields(const Json& doc, OpenAiRequest& r) {
  GEMMAD_TRY(parse_tools(doc, r));
  GEMMAD_TRY(parse_tool_choice(doc, r));
  GEMMAD_TRY(parse_response_format(doc, r));
  return parse_thinking(doc, r);
}

Status parse_message_tool_fields(const Json& m, const std::string& at, ChatMessage& msg) {
  if (msg.role == "tool") {
    GEMMAD_ASSIGN_OR_RETURN(msg.tool_call_id, string_field(m, "tool_call_id", at, true));
    GEMMAD_ASSIGN_OR_RETURN(msg.name, string_field(m, "name", at, false));
    return {};
  }
  const Json* calls = field(m, "tool_calls");
  if (!calls) return {};
  if (msg.role != "assistant")
    return bad(at + ".tool_calls", "is only allowed in assistant messages");
  if (!calls->is_array()) return bad(at + ".tool_calls", "must be an array");
  for (size_t i = 0; i < calls->size(); ++i) {
    const std::string ct = at + ".tool_calls[" + std::to_string(i) + "]";
    GEMMAD_ASSIGN_OR_RETURN(const Json* fn, function_object((*calls)[i], ct));
    MessageToolCall c;
    GEMMAD_ASSIGN_OR_RETURN(c.id, string_field((*calls)[i], "id", ct, false));
    GEMMAD_ASSIGN_OR_RETURN(c.name, string_field(*fn, "name", ct + ".function", true));
    GEMMAD_ASSIGN_OR_RETURN(std::string args,
                            string_field(*fn, "arguments", ct + ".function", false));
    if (args.empty()) args = "{}";
    Json parsed = Json::parse(args, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return bad(ct + ".function.arguments",
                 "must be a JSON object in a string, not " + shown(Json(args)));
    }
    c.arguments_json = parsed.dump();
    msg.tool_calls.push_back(std::move(c));
  }
  return {};
}

}  // namespace gemmad::http
