// The KV-reuse contract in one place (docs/ARCHITECTURE.md "Turn service"): the exact ids
// of a session's last turn (prompt + generated tokens), so the next turn's prompt continues
// them token for token. The scheduler's slot for the session holds the KV of exactly that
// sequence (every generated token but a last one that was never fed), so the next turn
// prefills only its new text, even where re-tokenising the stored text would differ.
// Used on the io thread only; bounded (least recently used sessions are forgotten).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::daemon {

class SessionTokenCache {
 public:
  explicit SessionTokenCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  struct Continued {
    std::vector<int32_t> ids;  // empty: not cached (render from the store instead)
    uint32_t turns_left_out = 0;
  };
  // The next prompt of `session_id` after `turns` stored turns, for model `model`: the
  // cached sequence, the model turn closed as the template closes it, then `user_text` as
  // a user turn and the generation prompt.
  Continued continue_turn(const std::string& session_id, const std::string& model, int64_t turns,
                          const chat::ChatFormat& chat, const tokenizer::Tokenizer& tok,
                          const std::string& user_text);
  // After a turn that ended cleanly (eos, stop token, max_tokens) was stored as turn
  // number `turns`.
  void remember(const std::string& session_id, const std::string& model, int64_t turns,
                uint32_t turns_left_out, std::span<const int32_t> prompt,
                std::span<const int32_t> generated);
  void forget(const std::string& session_id) { entries_.erase(session_id); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string model;
    int64_t turns = 0;
    uint32_t turns_left_out = 0;
    std::vector<int32_t> tokens;
    uint64_t last_used = 0;
  };
  size_t capacity_;
  uint64_t clock_ = 0;
  std::map<std::string, Entry> entries_;
};

}  // namespace gemmad::daemon
