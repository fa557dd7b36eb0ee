// `gemmactl chat`'s tool, JSON-output, thinking and stop options (see chat_tools.h).
#include "chat_tools.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

namespace gemmad::ctl {
namespace {

using Json = nlohmann::json;

Error usage(const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, message);
}

Result<std::string> read_file(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage(flag + " '" + path + "' cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<Json> read_json_file(const std::string& flag, const std::string& path) {
  GEMMAD_ASSIGN_OR_RETURN(std::string text, read_file(flag, path));
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return usage(flag + " '" + path + "' is not valid JSON");
  return doc;
}

}  // namespace

Result<std::vector<v1::ToolDeclaration>> read_tools_file(const std::string& path) {
  GEMMAD_ASSIGN_OR_RETURN(Json doc, read_json_file("--tools", path));
  if (!doc.is_array()) return usage("--tools '" + path + "' must hold a JSON array of tools");
  std::vector<v1::ToolDeclaration> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string at = "--tools " + path + " [" + std::to_string(i) + "]";
    const Json* fn = &doc[i];
    if (fn->is_object() && fn->contains("function")) fn = &(*fn)["function"];
    if (!fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
      return usage(at +
                   ": a tool needs a string 'name' (or {\"type\": \"function\", "
                   "\"function\": {\"name\": ...}})");
    }
    v1::ToolDeclaration t;
    t.set_name((*fn)["name"].get<std::string>());
    if (fn->contains("description") && (*fn)["description"].is_string()) {
      t.set_description((*fn)["description"].get<std::string>());
    }
    if (fn->contains("parameters") && !(*fn)["parameters"].is_null()) {
      if (!(*fn)["parameters"].is_object()) {
        return usage(at + ": 'parameters' must be a JSON Schema object");
      }
      t.set_parameters_json((*fn)["parameters"].dump());
    }
    out.push_back(std::move(t));
  }
  return out;
}

Result<v1::ToolResult> parse_tool_result(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) {
    return usage("--tool-result '" + arg.substr(0, 60) +
                 "' must be ID=CONTENT (ID from the previous turn's tool_calls, or empty)");
  }
  v1::ToolResult r;
  r.set_call_id(arg.substr(0, eq));
  std::string content = arg.substr(eq + 1);
  if (content.starts_with("@")) {
    GEMMAD_ASSIGN_OR_RETURN(content, read_file("--tool-result", content.substr(1)));
  }
  r.set_content(std::move(content));
  return r;
}

Status apply_tool_args(ToolArgs& a, v1::ChatRequest& req) {
  if (!a.tools_file.empty()) {
    GEMMAD_ASSIGN_OR_RETURN(auto tools, read_tools_file(a.tools_file));
    for (auto& t : tools)
      *req.add_tools() = std::move(t);
  }
  const std::string& tc = a.tool_choice;
  if (tc.empty() || tc == "auto") {
    req.mutable_tool_choice()->set_mode(v1::TOOL_CHOICE_AUTO);
  } else if (tc == "none") {
    req.mutable_tool_choice()->set_mode(v1::TOOL_CHOICE_NONE);
  } else if (tc == "required") {
    req.mutable_tool_choice()->set_mode(v1::TOOL_CHOICE_REQUIRED);
  } else {
    req.mutable_tool_choice()->set_mode(v1::TOOL_CHOICE_FUNCTION);
    req.mutable_tool_choice()->set_function(tc);
  }
  if (!a.schema_file.empty()) {
    GEMMAD_ASSIGN_OR_RETURN(std::string schema, read_file("--schema", a.schema_file));
    req.mutable_response_format()->set_type(v1::RESPONSE_FORMAT_JSON_SCHEMA);
    req.mutable_response_format()->set_schema_json(std::move(schema));
  } else if (a.json_object) {
    req.mutable_response_format()->set_type(v1::RESPONSE_FORMAT_JSON_OBJECT);
  }
  if (a.thinking_budget > (int64_t{1} << 20)) {
    return usage("--thinking-budget " + std::to_string(a.thinking_budget) + " is over 1048576");
  }
  if (a.thinking_budget >= 0) req.set_thinking_budget(static_cast<uint32_t>(a.thinking_budget));
  if (a.stop.size() > 4) {
    return usage("--stop given " + std::to_string(a.stop.size()) + " times; at most 4");
  }
  for (const std::string& s : a.stop) {
    if (s.empty()) return usage("--stop needs a non-empty string");
    req.mutable_sampling()->add_stop(s);
  }
  for (const std::string& arg : a.tool_results) {
    GEMMAD_ASSIGN_OR_RETURN(v1::ToolResult r, parse_tool_result(arg));
    *req.add_tool_results() = std::move(r);
  }
  a.tool_results.clear();
  return {};
}

}  // namespace gemmad::ctl
