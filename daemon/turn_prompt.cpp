// Leaving out the oldest whole turns until the prompt fits; see turn_prompt.h.
#include "daemon/turn_prompt.h"

#include <algorithm>

namespace gemmad::daemon {

uint32_t prompt_budget(uint32_t n_ctx, uint32_t max_tokens, uint32_t max_prompt_tokens) {
  const uint32_t reserve = std::min(max_tokens, n_ctx / 2);
  uint32_t budget = n_ctx - reserve;
  if (max_prompt_tokens > 0) budget = std::min(budget, max_prompt_tokens);
  return budget;
}

Result<PromptPlan> render_within(const chat::ChatFormat& chat, const std::string& system_prompt,
                                 std::span<const chat::Message> history,
                                 std::span<const chat::Message> new_turn, bool thinking,
                                 uint32_t budget, uint32_t min_left_out,
                                 std::span<const chat::ToolDeclaration> tools) {
  // Rows media add to messages' text (their soft tokens, begin and end tokens).
  auto media_rows = [](std::span<const chat::Message> ms) {
    size_t n = 0;
    for (const chat::Message& m : ms) {
      for (const chat::MediaAnchor& a : m.media)
        n += a.rows;
    }
    return n;
  };
  // Turns: each starts at a user message and runs to the next one.
  std::vector<size_t> starts;
  for (size_t i = 0; i < history.size(); ++i) {
    if (i == 0 || history[i].role == chat::Role::kUser) starts.push_back(i);
  }
  // The template renders each message on its own between control tokens, so a turn's ids
  // are the same alone as inside the whole prompt: their lengths add up.
  std::vector<size_t> turn_tokens;
  for (size_t t = 0; t < starts.size(); ++t) {
    const size_t end = t + 1 < starts.size() ? starts[t + 1] : history.size();
    const auto msgs = history.subspan(starts[t], end - starts[t]);
    turn_tokens.push_back(
        chat.render_ids(msgs, {.thinking = false, .add_generation_prompt = false, .add_bos = false})
            .size() +
        media_rows(msgs));
  }
  std::vector<chat::Message> fixed;
  if (!system_prompt.empty()) fixed.push_back({chat::Role::kSystem, system_prompt});
  fixed.insert(fixed.end(), new_turn.begin(), new_turn.end());
  const size_t base =
      chat.render_ids(fixed, {.thinking = thinking, .tools = tools}).size() + media_rows(new_turn);
  if (base > budget) {
    return make_error(ErrorCode::kOutOfRange,
                      "context_full: the new message needs " + std::to_string(base) +
                          " prompt tokens with the system prompt; the budget is " +
                          std::to_string(budget) +
                          " (model.context_length minus the reply's max_tokens)");
  }
  size_t total = base;
  for (size_t n : turn_tokens)
    total += n;
  size_t left_out = 0;
  const size_t at_least = std::min<size_t>(min_left_out, starts.size());
  for (; left_out < at_least; ++left_out)
    total -= turn_tokens[left_out];
  // When turns must go, leave out a quarter of the budget more than needed: the kept
  // prefix (and the KV the scheduler holds for it) then lasts several turns instead of
  // shifting, and being prefilled again, every turn.
  if (total > budget) {
    const size_t target = budget - budget / 4;
    while (total > target && left_out < starts.size()) {
      total -= turn_tokens[left_out];
      ++left_out;
    }
  }
  std::vector<chat::Message> conv;
  if (!system_prompt.empty()) conv.push_back({chat::Role::kSystem, system_prompt});
  const size_t from = left_out < starts.size() ? starts[left_out] : history.size();
  conv.insert(conv.end(), history.begin() + static_cast<std::ptrdiff_t>(from), history.end());
  conv.insert(conv.end(), new_turn.begin(), new_turn.end());
  PromptPlan plan;
  chat::ChatFormat::MediaIds rendered =
      chat.render_media_ids(conv, {.thinking = thinking, .tools = tools});
  plan.ids = std::move(rendered.ids);
  plan.media_at = std::move(rendered.media_at);
  for (size_t i = 0; i < from; ++i)
    plan.media_left_out += history[i].media.size();
  plan.turns_left_out = static_cast<uint32_t>(left_out);
  return plan;
}

}  // namespace gemmad::daemon
