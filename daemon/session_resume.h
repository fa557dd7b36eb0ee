// A stored session's next turn after a restart (docs/KV_CACHE.md "Saved KV"): the session
// token cache (session_tokens.h) is empty then, so the exact ids of the last turn come from
// the session's saved KV file, whose tag says which model and turn they belong to. With
// them the next prompt continues the saved KV token for token, as it would have without the
// restart.
#pragma once

#include <cstdint>
#include <string>

#include "daemon/kv_store.h"
#include "daemon/session_tokens.h"

namespace gemmad::daemon {

struct LoadedModel;

// The tag a stored turn's job carries (JobSpec::cache_tag): the model's name, the session's
// turn count once the turn is stored, and the turns its prompt left out.
std::string session_kv_tag(const std::string& model, int64_t turns, uint32_t turns_left_out);

// Fills `cache` for `session_id` from its saved KV file when the file is of `model` (name
// and file), was made at turn count `turns`, and its ids are in the vocabulary.
void seed_from_saved_kv(SessionTokenCache& cache, KvStore* store, const std::string& session_id,
                        const LoadedModel& model, int64_t turns);

}  // namespace gemmad::daemon
