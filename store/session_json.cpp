// session_export_to_json: the export document of a stored session.
#include "store/session_json.h"

#include <nlohmann/json.hpp>

namespace gemmad::store {

std::string session_export_to_json(const SessionExport& exported, int indent) {
  const Session& s = exported.session;
  nlohmann::json options = nlohmann::json::parse(s.options_json, nullptr, false);
  if (options.is_discarded()) options = s.options_json;  // stored before validation: keep as text

  nlohmann::json messages = nlohmann::json::array();
  for (const Message& m : exported.messages) {
    nlohmann::json item = {{"seq", m.seq},
                           {"role", role_name(m.role)},
                           {"text", m.text},
                           {"tokens", m.tokens},
                           {"created", m.created_ms},
                           {"status", message_status_name(m.status)}};
    if (!m.tool_calls_json.empty()) {
      nlohmann::json calls = nlohmann::json::parse(m.tool_calls_json, nullptr, false);
      item["tool_calls"] = calls.is_discarded() ? nlohmann::json(m.tool_calls_json) : calls;
    }
    if (m.role == Role::kTool) {
      item["tool_name"] = m.tool_name;
      item["tool_call_id"] = m.tool_call_id;
    }
    messages.push_back(std::move(item));
  }
  const nlohmann::json doc = {{"format", "gemmad.session"},
                              {"version", 1},
                              {"id", s.id},
                              {"title", s.title},
                              {"system_prompt", s.system_prompt},
                              {"options", std::move(options)},
                              {"created", s.created_ms},
                              {"updated", s.updated_ms},
                              {"turns", s.turns},
                              {"messages", std::move(messages)}};
  return doc.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gemmad::store
