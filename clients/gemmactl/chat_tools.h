// `gemmactl chat`'s tool, JSON-output, thinking and stop options (README "Tools, JSON output
// and thinking"): read the files they name and fill the ChatRequest. Errors name the flag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::ctl {

struct ToolArgs {
  std::string tools_file;                 // --tools FILE
  std::string tool_choice;                // --tool-choice auto|none|required|NAME ("" = auto)
  std::string schema_file;                // --schema FILE
  bool json_object = false;               // --json-object
  int64_t thinking_budget = -1;           // --thinking-budget N (-1: unset)
  bool show_thoughts = false;             // --show-thoughts
  std::vector<std::string> stop;          // --stop STR (up to 4)
  std::vector<std::string> tool_results;  // --tool-result ID=CONTENT
};

// Reads --tools FILE: a JSON array of OpenAI-style {"type": "function", "function": {...}}
// or plain {"name", "description", "parameters"} declarations.
Result<std::vector<v1::ToolDeclaration>> read_tools_file(const std::string& path);

// "ID=CONTENT" (ID a Done.tool_calls id, or empty for the calls in order; CONTENT a JSON
// object or any text; "@FILE" reads it from FILE).
Result<v1::ToolResult> parse_tool_result(const std::string& arg);

// Everything ToolArgs asks for, into `req` (files read now; --tool-result consumed so a REPL
// sends them with one turn only).
Status apply_tool_args(ToolArgs& a, v1::ChatRequest& req);

}  // namespace gemmad::ctl
