// The generation rules and the single-sequence loop; see generation.h.
#include "generate/generation.h"

#include <algorithm>
#include <chrono>

namespace gemmad::generate {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kNone:
      return "none";
    case StopReason::kEos:
      return "eos";
    case StopReason::kStopToken:
      return "stop_token";
    case StopReason::kStopString:
      return "stop_string";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kContextFull:
      return "context_full";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kShutdown:
      return "shutdown";
    case StopReason::kError:
      return "error";
  }
  return "unknown";
}

bool StopSet::contains(TokenId id) const {
  return reason(id) != StopReason::kNone;
}

StopReason StopSet::reason(TokenId id) const {
  auto has = [id](const std::vector<TokenId>& v) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  if (has(end_of_turn)) return StopReason::kStopToken;
  if (has(eos)) return StopReason::kEos;
  return StopReason::kNone;
}

StopSet stop_set_for(const tokenizer::Tokenizer& tok) {
  StopSet s;
  // The chat template's ends of a model turn: its turn end, and the start of a tool
  // response (the model hands over to the tool).
  for (const char* name : {"<turn|>", "<|tool_response>"}) {
    if (const TokenId id = tok.find_token(name); id >= 0) s.end_of_turn.push_back(id);
  }
  for (const TokenId id : {tok.eos_id(), tok.find_token("<eos>")}) {
    if (id >= 0 && !s.contains(id)) s.eos.push_back(id);
  }
  return s;
}

Status validate(const Limits& limits) {
  if (limits.max_tokens < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "max_tokens " + std::to_string(limits.max_tokens) + " is below 1");
  }
  if (limits.stop_strings.size() > kMaxStopStrings) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stop: " + std::to_string(limits.stop_strings.size()) + " strings; limit " +
                          std::to_string(kMaxStopStrings));
  }
  for (size_t i = 0; i < limits.stop_strings.size(); ++i) {
    const std::string& s = limits.stop_strings[i];
    if (s.empty() || s.size() > kMaxStopStringBytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        "stop[" + std::to_string(i) + "] is " + std::to_string(s.size()) +
                            " bytes; must be 1.." + std::to_string(kMaxStopStringBytes));
    }
  }
  return {};
}

Sequence::Sequence(const tokenizer::Tokenizer* tok, StopSet stops, Limits limits, uint32_t n_ctx,
                   std::shared_ptr<const constrain::TokenIndex> index)
    : tok_(tok), stops_(std::move(stops)), limits_(std::move(limits)), n_ctx_(n_ctx) {
  if (tok_) detok_ = std::make_unique<tokenizer::Detokenizer>(*tok_);
  if (limits_.ignore_eos) stops_ = StopSet{};
  if (limits_.grammar && index && tok_) {
    matcher_ = std::make_unique<constrain::Matcher>(limits_.grammar, std::move(index));
  }
}

Sequence::~Sequence() = default;
Sequence::Sequence(Sequence&&) noexcept = default;

void Sequence::constrain_logits(std::span<float> logits) const {
  if (!matcher_) return;
  // The stop set's tokens are not in the grammar: keep their logits when the value may end.
  std::vector<std::pair<size_t, float>> keep;
  if (matcher_->complete()) {
    for (const auto* ids : {&stops_.eos, &stops_.end_of_turn}) {
      for (const TokenId id : *ids) {
        const auto i = static_cast<size_t>(id);
        if (id >= 0 && i < logits.size()) keep.emplace_back(i, logits[i]);
      }
    }
  }
  matcher_->mask_logits(logits);
  for (const auto& [i, v] : keep)
    logits[i] = v;
}

// Bytes at the end of `tail` that could begin a stop string (held back until decided).
size_t Sequence::held_back(std::string_view tail) const {
  size_t keep = 0;
  for (const std::string& s : limits_.stop_strings) {
    const size_t max_len = std::min(tail.size(), s.size() - 1);
    for (size_t len = max_len; len > keep; --len) {
      if (tail.substr(tail.size() - len) == std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  return keep;
}

Sequence::Step Sequence::accept(TokenId id, int32_t n_pos) {
  Step step;
  if (const StopReason r = stops_.reason(id); r != StopReason::kNone) {
    step.stop = r;
    step.stop_token = true;
    return step;
  }
  if (limits_.grammar) {
    Status st = matcher_ ? matcher_->accept(id)
                         : Status(make_error(ErrorCode::kInternal,
                                             "constrained decoding needs a tokenizer and its "
                                             "token index"));
    if (!st.ok()) {
      error_ = st.error();
      step.stop = StopReason::kError;
      return step;
    }
  }
  tokens_.push_back(id);
  std::string piece;
  if (detok_) {
    if (Status st = detok_->push(id, piece); !st.ok()) {
      error_ = st.error();
      step.stop = StopReason::kError;
      return step;
    }
  } else {
    piece = (tokens_.size() > 1 ? " " : "") + std::to_string(id);
  }
  pending_ += piece;
  if (!limits_.stop_strings.empty()) {
    size_t cut = std::string::npos;
    for (const std::string& s : limits_.stop_strings)
      cut = std::min(cut, pending_.find(s));
    if (cut != std::string::npos) {
      step.text = pending_.substr(0, cut);
      text_ += step.text;
      pending_.clear();
      step.stop = StopReason::kStopString;
      return step;
    }
  }
  const size_t keep = held_back(pending_);
  step.text = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  text_ += step.text;
  if (matcher_ && matcher_->must_end()) {
    step.stop = StopReason::kStopToken;  // the value is complete; nothing may follow
  } else if (static_cast<int32_t>(tokens_.size()) >= limits_.max_tokens) {
    step.stop = StopReason::kMaxTokens;
  } else if (!context_has_room(n_pos, n_ctx_)) {
    step.stop = StopReason::kContextFull;
  }
  return step;
}

std::string Sequence::finish() {
  std::string tail = std::move(pending_);
  pending_.clear();
  if (detok_) detok_->finish(tail);
  text_ += tail;
  return tail;
}

RunResult run_sequence(engine::Gemma4Forward& forward, runtime::KvCachePool& kv, int32_t seq,
                       std::span<const TokenId> prompt, sampler::Sampler& sampler,
                       Sequence& sequence,
                       const std::function<bool(TokenId, const std::string&)>& on_text) {
  RunResult r;
  for (const TokenId id : prompt)
    sampler.accept(id);
  runtime::Batch batch;
  const int32_t start = kv.seq(static_cast<uint32_t>(seq)).n_pos();
  for (size_t i = 0; i < prompt.size(); ++i) {
    batch.add(prompt[i], start + static_cast<int32_t>(i), seq, i + 1 == prompt.size());
  }
  engine::ForwardOutput out;
  const auto t0 = Clock::now();
  Status st = forward.forward(batch, kv, out);
  Clock::time_point t_first = Clock::now();
  bool first = true;
  while (st.ok()) {
    const std::span<float> row(out.logits.data(), static_cast<size_t>(out.n_vocab));
    sequence.constrain_logits(row);
    const TokenId id = sampler.sample(row);
    if (first) {
      t_first = Clock::now();
      r.prefill_ms = ms_between(t0, t_first);
      first = false;
    }
    const int32_t n_pos = kv.seq(static_cast<uint32_t>(seq)).n_pos();
    Sequence::Step step = sequence.accept(id, n_pos);
    const bool go_on = on_text(id, step.text);
    if (step.stop != StopReason::kNone) {
      r.stop = step.stop;
      break;
    }
    if (!go_on) {
      r.stop = StopReason::kCancelled;
      break;
    }
    batch.clear();
    batch.add(id, n_pos, seq, true);
    st = forward.forward(batch, kv, out);
  }
  if (!st.ok()) {
    r.stop = StopReason::kError;
    r.error = st.error();
  } else if (r.stop == StopReason::kError) {
    r.error = sequence.error();
  } else if (r.stop != StopReason::kCancelled) {
    const std::string tail = sequence.finish();
    if (!tail.empty()) on_text(-1, tail);
  }
  if (!first) r.decode_ms = ms_between(t_first, Clock::now());
  r.text = sequence.text();
  r.tokens = sequence.tokens();
  return r;
}

}  // namespace gemmad::generate
