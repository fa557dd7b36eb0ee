// The token rules of a chat reply: thought channel, budget, tool choice, grammars; see
// turn_policy.h.
#include "chat/turn_policy.h"

#include <cmath>
#include <limits>

namespace gemmad::chat {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void forbid(std::span<float> logits, TokenId id) {
  if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[static_cast<size_t>(id)] = kNegInf;
}

// Leaves only `ids` (their logits kept; a -inf one becomes 0 so it can still be drawn).
void only(std::span<float> logits, std::initializer_list<TokenId> ids) {
  std::vector<std::pair<TokenId, float>> keep;
  for (TokenId id : ids) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) {
      keep.emplace_back(id, logits[static_cast<size_t>(id)]);
    }
  }
  std::fill(logits.begin(), logits.end(), kNegInf);
  for (auto [id, v] : keep)
    logits[static_cast<size_t>(id)] = std::isfinite(v) ? v : 0.0f;
}

Error refused(TokenId id, const char* why) {
  return make_error(
      ErrorCode::kInternal,
      "token " + std::to_string(id) + " was sampled against the reply's rules (" + why + ")");
}

}  // namespace

TurnPolicy::TurnPolicy(const ChatFormat& format, std::vector<TokenId> thought_header,
                       PolicyOptions options)
    : ids_(format.tool_ids()), turn_end_(format.turn_end_id()), opts_(std::move(options)) {
  if (opts_.thinking && opts_.in_thought) {
    state_ = State::kThought;
  } else if (opts_.thinking) {
    state_ = State::kThought;
    forced_.push_back(ids_.channel);
    forced_.insert(forced_.end(), thought_header.begin(), thought_header.end());
  } else {
    enter_answer();
  }
}

void TurnPolicy::enter_answer() {
  state_ = State::kAnswer;
  if (opts_.tools == ToolMode::kRequired) forced_.push_back(ids_.call);
  if (opts_.answer_grammar && opts_.tools != ToolMode::kRequired) {
    grammar_ = opts_.answer_grammar();
  }
}

void TurnPolicy::mask(std::span<float> logits) {
  if (forced_at_ < forced_.size()) {
    only(logits, {forced_[forced_at_]});
    return;
  }
  switch (state_) {
    case State::kThought:
      if (opts_.thinking_budget && thought_tokens_ >= *opts_.thinking_budget) {
        only(logits, {ids_.channel_end});
        return;
      }
      forbid(logits, ids_.channel);
      forbid(logits, ids_.call);
      return;
    case State::kAnswer: {
      if (grammar_) {
        if (grammar_->must_end()) {
          only(logits, {turn_end_});
          return;
        }
        const bool complete = grammar_->complete();
        const float end = turn_end_ >= 0 ? logits[static_cast<size_t>(turn_end_)] : 0.0f;
        grammar_->mask(logits);
        if (complete && turn_end_ >= 0) logits[static_cast<size_t>(turn_end_)] = end;
        return;
      }
      forbid(logits, ids_.channel);  // one thought at most, before the answer
      forbid(logits, ids_.channel_end);
      forbid(logits, ids_.call_end);
      if (opts_.tools == ToolMode::kNone) forbid(logits, ids_.call);
      return;
    }
    case State::kCall:
      if (grammar_) {
        if (grammar_->must_end()) {
          only(logits, {ids_.call_end});
          return;
        }
        const bool complete = grammar_->complete();
        const float end = logits[static_cast<size_t>(ids_.call_end)];
        grammar_->mask(logits);
        if (complete) logits[static_cast<size_t>(ids_.call_end)] = end;
        return;
      }
      forbid(logits, ids_.call);
      return;
    case State::kAfterCall:
      // A required call is one call; under auto the model may make several.
      if (opts_.tools == ToolMode::kRequired) {
        only(logits, {ids_.response});
      } else {
        only(logits, {ids_.call, ids_.response});
      }
      return;
  }
}

Status TurnPolicy::accept(TokenId id) {
  if (forced_at_ < forced_.size()) {
    if (id != forced_[forced_at_]) return refused(id, "a forced token");
    ++forced_at_;
    if (forced_at_ == forced_.size()) {
      forced_.clear();
      forced_at_ = 0;
    }
    if (id == ids_.channel) return {};  // the opener and its name line are not thought
    if (state_ == State::kThought && id != ids_.channel_end) return {};
  }
  switch (state_) {
    case State::kThought:
      if (opts_.thinking_budget && thought_tokens_ >= *opts_.thinking_budget &&
          id != ids_.channel_end) {
        return refused(id, "the thinking budget forces <channel|>");
      }
      if (id == ids_.channel_end) {
        enter_answer();
      } else {
        ++thought_tokens_;
        if (opts_.thinking_budget && thought_tokens_ >= *opts_.thinking_budget) {
          budget_forced_ = true;
        }
      }
      return {};
    case State::kAnswer:
      if (id == ids_.call && opts_.tools != ToolMode::kNone && !answer_started_) {
        state_ = State::kCall;
        grammar_ = opts_.call_grammar ? opts_.call_grammar() : nullptr;
        return {};
      }
      if (grammar_) {
        if (id == turn_end_) return {};
        answer_started_ = true;
        return grammar_->accept(id);
      }
      return {};
    case State::kCall:
      if (id == ids_.call_end) {
        state_ = State::kAfterCall;
        grammar_.reset();
        return {};
      }
      if (grammar_) return grammar_->accept(id);
      return {};
    case State::kAfterCall:
      if (id == ids_.call) {
        state_ = State::kCall;
        grammar_ = opts_.call_grammar ? opts_.call_grammar() : nullptr;
      }
      return {};
  }
  return {};
}

}  // namespace gemmad::chat
