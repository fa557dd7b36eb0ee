// JSON documents for stored sessions: `gemmactl session export` (docs/DESIGN.md "Command-line
// contract"). Kept apart from the store so its queries do not depend on the output format.
#pragma once

#include <string>

#include "store/session_store.h"

namespace gemmad::store {

// One JSON object:
//   {"format": "gemmad.session", "version": 1, "id", "title", "system_prompt",
//    "options": {...}, "created", "updated", "turns",
//    "messages": [{"seq", "role", "text", "tokens", "created", "status"}]}
// Times are unix milliseconds. Text that is not valid UTF-8 (a reply cut mid-character) is
// written with U+FFFD in place of the bad bytes rather than failing the export.
std::string session_export_to_json(const SessionExport& exported, int indent = 2);

}  // namespace gemmad::store
