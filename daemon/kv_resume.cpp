// Saved KV for the scheduler's slots; see kv_resume.h.
#include "daemon/kv_resume.h"

#include <spdlog/spdlog.h>

#include "daemon/model_registry.h"
#include "runtime/kv_cache_type.h"
#include "runtime/kv_snapshot.h"

namespace gemmad::daemon {

bool is_saved_cache_key(const std::string& key) {
  return !key.empty() && !key.starts_with("stateless:");
}

std::optional<std::vector<int32_t>> unfed_tail(std::span<const int32_t> held,
                                               std::span<const int32_t> prompt,
                                               std::span<const int32_t> generated) {
  if (held.size() > prompt.size() + generated.size()) return std::nullopt;
  auto at = [&](size_t i) { return i < prompt.size() ? prompt[i] : generated[i - prompt.size()]; };
  for (size_t i = 0; i < held.size(); ++i) {
    if (held[i] != at(i)) return std::nullopt;
  }
  std::vector<int32_t> tail;
  for (size_t i = held.size(); i < prompt.size() + generated.size(); ++i)
    tail.push_back(at(i));
  return tail;
}

const ModelIdentity* KvResume::identity(const LoadedModel& model) {
  auto it = ids_.find(&model);
  if (it == ids_.end()) {
    Result<ModelIdentity> id = model_identity(model);
    if (!id.ok()) spdlog::warn("saved KV off for {}: {}", model.name, id.error().message);
    it = ids_.emplace(&model, id.ok() ? std::optional(*id) : std::nullopt).first;
  }
  return it->second ? &*it->second : nullptr;
}

void KvResume::save(const LoadedModel& model, const runtime::SequenceKv& seq,
                    const SlotNote& note) {
  if (!is_saved_cache_key(note.cache_key) || seq.n_pos() <= 0 ||
      note.tokens.size() != static_cast<size_t>(seq.n_pos())) {
    return;
  }
  const ModelIdentity* id = identity(model);
  if (!id) return;
  KvFileHead h;
  h.model = *id;
  h.kv_type = runtime::kv_types_name(seq.type());
  h.cache_key = note.cache_key;
  h.fair_key = note.fair_key;
  h.tag = note.tag;
  h.tokens.assign(note.tokens.begin(), note.tokens.end());
  h.tail.assign(note.tail.begin(), note.tail.end());
  store_.save(note.cache_key, note.fair_key, encode_kv_file(h, seq));
}

std::vector<int32_t> KvResume::restore(const LoadedModel& model, runtime::SequenceKv& seq,
                                       const std::string& cache_key,
                                       std::span<const int32_t> prompt) {
  seq.clear();
  if (!is_saved_cache_key(cache_key)) return {};
  Result<std::vector<uint8_t>> bytes = store_.load(cache_key);
  if (!bytes.ok()) {
    if (bytes.error().code != ErrorCode::kNotFound) store_.reject(cache_key, bytes.error().message);
    return {};
  }
  Result<KvFileView> file = decode_kv_file(*bytes);
  if (!file.ok()) {
    store_.reject(cache_key, file.error().message);
    return {};
  }
  const KvFileHead& h = file->head;
  const ModelIdentity* id = identity(model);
  std::string why;
  if (!id || !(h.model == *id)) {
    why = "made with model file " + h.model.path + " (" + std::to_string(h.model.size) +
          " bytes, mtime " + std::to_string(h.model.mtime_ns) + " ns); the current file is " +
          model.path +
          (id ? " (" + std::to_string(id->size) + " bytes, mtime " + std::to_string(id->mtime_ns) +
                    " ns)"
              : "");
  } else if (h.kv_type != runtime::kv_types_name(seq.type())) {
    why = "KV type " + h.kv_type + ", the cache is " + runtime::kv_types_name(seq.type());
  } else if (h.cache_key != cache_key) {
    why = "file of another session";
  } else if (h.tokens.empty() || prompt.empty() || h.tokens[0] != prompt[0]) {
    // Nothing to reuse: the new prompt does not continue the saved tokens.
    spdlog::info("saved KV of session not reused: the prompt does not continue its tokens");
    return {};
  }
  if (!why.empty()) {
    store_.reject(cache_key, why);
    return {};
  }
  if (Status st = runtime::kv_snapshot_restore(seq, file->snapshot); !st.ok()) {
    store_.reject(cache_key, st.error().message);
    seq.clear();
    return {};
  }
  if (static_cast<size_t>(seq.n_pos()) != h.tokens.size()) {
    store_.reject(cache_key, "holds " + std::to_string(seq.n_pos()) + " positions for " +
                                 std::to_string(h.tokens.size()) + " tokens");
    seq.clear();
    return {};
  }
  ++restored_;
  return h.tokens;
}

}  // namespace gemmad::daemon
