// A chat prompt that fits its budget (docs/ARCHITECTURE.md "Context that never hits a
// wall"): when system prompt + history + new turn do not fit, the oldest whole turns (a user
// message and the replies after it) are left out of the prompt; the system prompt and the
// new turn are always kept. Only a new turn that cannot fit by itself is an error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "chat/chat_format.h"
#include "common/result.h"

namespace gemmad::daemon {

struct PromptPlan {
  std::vector<int32_t> ids;
  uint32_t turns_left_out = 0;
  // Where the kept messages' media parts go (ChatFormat::render_media_ids), one per part, in
  // message order; the parts of left-out turns come first and are not rendered: the first
  // media_left_out anchors of `history`.
  std::vector<size_t> media_at;
  size_t media_left_out = 0;
};

// `history`: earlier user/model messages, oldest first (no system message). Leaves out at
// least `min_left_out` turns (a session keeps leaving out what it left out before, so the
// KV of the kept prefix stays reusable); when it must leave out more, it goes down to three
// quarters of the budget, so the next turns fit without shifting again. kOutOfRange "context_full"
// when the system prompt and the new turn alone exceed `budget` tokens.
// `new_turn`: the user's message, or the tool results that answer the last model message's
// calls (kept together). `tools` are declared in the system block. Media anchors of any
// message count their `rows` into the message's size.
Result<PromptPlan> render_within(const chat::ChatFormat& chat, const std::string& system_prompt,
                                 std::span<const chat::Message> history,
                                 std::span<const chat::Message> new_turn, bool thinking,
                                 uint32_t budget, uint32_t min_left_out = 0,
                                 std::span<const chat::ToolDeclaration> tools = {});

// Tokens of the prompt available for a request: the context minus the reply's reserve
// (max_tokens, at most half the context), capped by store.max_prompt_tokens when set.
uint32_t prompt_budget(uint32_t n_ctx, uint32_t max_tokens, uint32_t max_prompt_tokens);

}  // namespace gemmad::daemon
