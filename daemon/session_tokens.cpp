// The session token cache; see session_tokens.h.
#include "daemon/session_tokens.h"

namespace gemmad::daemon {

SessionTokenCache::Continued SessionTokenCache::continue_turn(
    const std::string& session_id, const std::string& model, int64_t turns,
    const chat::ChatFormat& chat, const tokenizer::Tokenizer& tok, const std::string& user_text) {
  Continued c;
  auto it = entries_.find(session_id);
  if (it == entries_.end() || it->second.turns != turns || it->second.model != model) return c;
  // Close the model turn the way the chat format does (<turn|> then a newline), then the new
  // user turn and the generation prompt.
  c.ids = it->second.tokens;
  c.ids.push_back(chat.turn_end_id());
  tok.encode_append("\n", false, c.ids);
  const chat::Message turn{chat::Role::kUser, user_text};
  const auto tail = chat.render_ids(std::span(&turn, 1), {.add_bos = false});
  c.ids.insert(c.ids.end(), tail.begin(), tail.end());
  c.turns_left_out = it->second.turns_left_out;
  it->second.last_used = ++clock_;
  return c;
}

void SessionTokenCache::remember(const std::string& session_id, const std::string& model,
                                 int64_t turns, uint32_t turns_left_out,
                                 std::span<const int32_t> prompt,
                                 std::span<const int32_t> generated) {
  Entry& e = entries_[session_id];
  e.model = model;
  e.turns = turns;
  e.turns_left_out = turns_left_out;
  e.tokens.assign(prompt.begin(), prompt.end());
  e.tokens.insert(e.tokens.end(), generated.begin(), generated.end());
  e.last_used = ++clock_;
  while (entries_.size() > capacity_) {
    auto oldest = entries_.begin();
    for (auto j = entries_.begin(); j != entries_.end(); ++j) {
      if (j->second.last_used < oldest->second.last_used) oldest = j;
    }
    entries_.erase(oldest);
  }
}

}  // namespace gemmad::daemon
