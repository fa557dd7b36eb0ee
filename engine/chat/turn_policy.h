// The token rules of one chat reply (docs/ARCHITECTURE.md "Channels, tools and constrained
// output"), as a generate::TokenPolicy the scheduler applies before each sample:
// - thinking on: the reply opens the thought channel (`<|channel>thought\n` forced, unless
//   the prompt opened it); after `thinking_budget` thought tokens `<channel|>` is forced.
//   Thinking off: `<|channel>` is masked, so no thought reaches the answer.
// - tools: kNone masks `<|tool_call>`; kRequired forces it at the start of the answer (and
//   `only`/a one-name grammar picks the function); inside a call the call grammar applies
//   until `<tool_call|>`; after a call only `<|tool_response>` (the stop token that ends a
//   reply with calls) may follow, or under kAuto another call.
// - response format: the answer is generated under the answer grammar; once it is complete
//   the end-of-turn token is allowed, and forced when nothing else can follow.
// Grammars come from a Constraint factory (the constrained-decoding engine's matcher).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "chat/chat_format.h"
#include "generate/token_policy.h"

namespace gemmad::chat {

// One grammar's per-sequence state.
class Constraint {
 public:
  virtual ~Constraint() = default;
  virtual void mask(std::span<float> logits) const = 0;
  virtual Status accept(TokenId id) = 0;
  virtual bool complete() const = 0;  // the value may end here
  virtual bool must_end() const = 0;  // the value is complete and nothing may follow
};
using ConstraintFactory = std::function<std::unique_ptr<Constraint>()>;

enum class ToolMode { kNone, kAuto, kRequired };

struct PolicyOptions {
  bool thinking = false;
  bool in_thought = false;                  // the prompt already opened the thought channel
  std::optional<uint32_t> thinking_budget;  // thought tokens; unset = until max_tokens
  ToolMode tools = ToolMode::kNone;
  ConstraintFactory call_grammar;    // `call:NAME{...}`; empty = calls are not constrained
  ConstraintFactory answer_grammar;  // response format; empty = free text
};

class TurnPolicy : public generate::TokenPolicy {
 public:
  // `thought_header`: the ids of "thought\n" (forced after `<|channel>`).
  TurnPolicy(const ChatFormat& format, std::vector<TokenId> thought_header, PolicyOptions options);

  void mask(std::span<float> logits) override;
  Status accept(TokenId id) override;

  uint32_t thought_tokens() const { return thought_tokens_; }
  bool budget_forced() const { return budget_forced_; }  // the budget closed the thought

 private:
  enum class State { kThought, kAnswer, kCall, kAfterCall };
  void enter_answer();

  ChatFormat::ToolIds ids_;
  TokenId turn_end_;
  PolicyOptions opts_;
  State state_ = State::kAnswer;
  std::vector<TokenId> forced_;  // next tokens, front first
  size_t forced_at_ = 0;
  bool answer_started_ = false;          // the answer grammar has accepted a token
  std::unique_ptr<Constraint> grammar_;  // of the current call or the answer
  uint32_t thought_tokens_ = 0;
  bool budget_forced_ = false;
};

}  // namespace gemmad::chat
