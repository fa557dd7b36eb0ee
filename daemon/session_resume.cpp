// Session token ids from a saved KV file; see session_resume.h.
#include "daemon/session_resume.h"

#include <sys/stat.h>

#include <charconv>

#include <spdlog/spdlog.h>

#include "daemon/model_registry.h"

namespace gemmad::daemon {
namespace {

bool parse_tag(const std::string& tag, std::string& model, int64_t& turns, uint32_t& left_out) {
  const size_t a = tag.find('\n');
  const size_t b = a == std::string::npos ? a : tag.find('\n', a + 1);
  if (b == std::string::npos) return false;
  model = tag.substr(0, a);
  const char* p = tag.data();
  auto r1 = std::from_chars(p + a + 1, p + b, turns);
  auto r2 = std::from_chars(p + b + 1, p + tag.size(), left_out);
  return r1.ec == std::errc() && r1.ptr == p + b && r2.ec == std::errc() &&
         r2.ptr == p + tag.size();
}

}  // namespace

std::string session_kv_tag(const std::string& model, int64_t turns, uint32_t turns_left_out) {
  return model + "\n" + std::to_string(turns) + "\n" + std::to_string(turns_left_out);
}

void seed_from_saved_kv(SessionTokenCache& cache, KvStore* store, const std::string& session_id,
                        const LoadedModel& model, int64_t turns) {
  if (!store) return;
  Result<KvFileHead> head = store->load_head(session_id);
  if (!head.ok()) {
    if (head.error().code != ErrorCode::kNotFound) store->reject(session_id, head.error().message);
    return;
  }
  std::string tag_model;
  int64_t tag_turns = 0;
  uint32_t left_out = 0;
  if (head->cache_key != session_id || !parse_tag(head->tag, tag_model, tag_turns, left_out) ||
      tag_model != model.name || tag_turns != turns) {
    return;  // an interrupted or older turn: the history is rendered again
  }
  // The ids are of the file's vocabulary: the same file (path, size, mtime) or nothing. The
  // scheduler checks the header hash too before it uses the rows.
  struct stat st {};
  if (head->model.path != model.path || ::stat(model.path.c_str(), &st) != 0 ||
      static_cast<uint64_t>(st.st_size) != head->model.size ||
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec !=
          head->model.mtime_ns) {
    return;
  }
  const auto n_vocab = static_cast<int32_t>(model.model->config().n_vocab);
  for (const auto* ids : {&head->tokens, &head->tail}) {
    for (int32_t t : *ids) {
      if (t < 0 || t >= n_vocab || !model.tok->is_valid_id(t)) {
        store->reject(session_id, "token id " + std::to_string(t) + " outside the vocabulary");
        return;
      }
    }
  }
  cache.remember(session_id, model.name, turns, left_out, head->tokens, head->tail);
}

}  // namespace gemmad::daemon
