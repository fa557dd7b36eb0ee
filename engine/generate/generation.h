// The rules of one generation, shared by the daemon's batching scheduler and gemmactl's
// offline verbs (docs/ARCHITECTURE.md "Generation loop"): which sampled token stops a
// sequence (the file's tokenizer.ggml.eos_token_id plus the chat template's end-of-turn
// tokens), when the context is full, the default max_tokens, stop strings, and turning
// ids into text through the streaming detokenizer (its errors end the sequence).
//
// `Sequence` is the per-sequence state: feed it each sampled token with the number of
// positions the KV cache holds, and it says what text became showable and whether the
// sequence stops. `run_sequence` is the single-sequence loop (prefill, sample, stop,
// detokenize) the offline verbs use; the scheduler does the same steps over a batch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "constrain/constrain.h"
#include "models/gemma4.h"
#include "runtime/kv_cache.h"
#include "sampler/sampler.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::generate {

using tokenizer::TokenId;

// Generated tokens when a request does not say (every front-end and verb uses this).
inline constexpr int32_t kDefaultMaxTokens = 1024;
inline constexpr size_t kMaxStopStrings = 4;
inline constexpr size_t kMaxStopStringBytes = 128;

enum class StopReason {
  kNone,         // keep going
  kEos,          // the file's end-of-sequence token
  kStopToken,    // another token of the stop set (the chat template's end of turn)
  kStopString,   // a stop string appeared in the text (it is cut from the text)
  kMaxTokens,    // max_tokens generated
  kContextFull,  // no position left for the next token
  kCancelled,    // stopped from outside (the client's cancel, its hang-up)
  kShutdown,     // drained: the daemon stopped it at shutdown, not its client
  kError,        // the detokenizer or the forward pass failed
};
const char* stop_reason_name(StopReason r);

// The one context rule: a token sampled while the KV holds n_pos positions is fed at
// position n_pos, so generation can go on only while n_pos < n_ctx.
inline bool context_has_room(int32_t n_pos, uint32_t n_ctx) {
  return n_pos >= 0 && static_cast<uint32_t>(n_pos) < n_ctx;
}

// The tokens that end generation, read from the vocabulary (never literal ids): the file's
// tokenizer.ggml.eos_token_id and "<eos>" (reported as kEos), and the chat template's ends
// of a model turn, "<turn|>" and "<|tool_response>" (kStopToken; also when the file names
// one of them as its eos, as Gemma 4 IT files name "<turn|>").
struct StopSet {
  std::vector<TokenId> eos;
  std::vector<TokenId> end_of_turn;
  bool contains(TokenId id) const;
  StopReason reason(TokenId id) const;  // kEos, kStopToken, or kNone if not in the set
};
StopSet stop_set_for(const tokenizer::Tokenizer& tok);

struct Limits {
  int32_t max_tokens = kDefaultMaxTokens;  // >= 1
  bool ignore_eos = false;                 // the stop set is ignored (benchmarks)
  std::vector<std::string> stop_strings;   // up to kMaxStopStrings, non-empty
  // Constrained decoding (docs/CONSTRAINED.md): when set, only tokens that keep the output a
  // prefix of the grammar's language are sampled, the stop set only once the value is
  // complete, and the sequence ends (kStopToken, the last token kept) when nothing more can
  // follow. Needs the vocabulary's TokenIndex (Sequence's constructor).
  std::shared_ptr<const constrain::Grammar> grammar;
};
// Errors name the field, the value and the limit.
Status validate(const Limits& limits);

class Sequence {
 public:
  // `tok` may be null (a model file without a tokenizer): the text is then the ids in
  // decimal, separated by spaces. The tokenizer must outlive the Sequence.
  // `index` is the tokenizer's token index; required when limits.grammar is set (without
  // it, or without a tokenizer, the first accept() ends the sequence with kError).
  Sequence(const tokenizer::Tokenizer* tok, StopSet stops, Limits limits, uint32_t n_ctx,
           std::shared_ptr<const constrain::TokenIndex> index = nullptr);
  ~Sequence();
  Sequence(Sequence&&) noexcept;

  struct Step {
    StopReason stop = StopReason::kNone;
    bool stop_token = false;  // the id was a stop-set token: not part of the output
    std::string text;         // newly showable text (may be empty)
  };
  // Before sampling: with a grammar, sets disallowed logits to -inf (the stop set's tokens
  // stay only when the value is complete). Without one, leaves the logits untouched.
  void constrain_logits(std::span<float> logits) const;
  bool constrained() const { return limits_.grammar != nullptr; }
  // After sampling `id` from the logits of a KV holding n_pos positions.
  Step accept(TokenId id, int32_t n_pos);
  // The end of the stream (not after kCancelled/kError): held-back text, if any.
  // Call it once.
  std::string finish();

  const std::string& text() const { return text_; }               // showable text so far
  const std::vector<TokenId>& tokens() const { return tokens_; }  // stop token excluded
  const Error& error() const { return error_; }                   // after kError
  const Limits& limits() const { return limits_; }

 private:
  size_t held_back(std::string_view tail) const;

  const tokenizer::Tokenizer* tok_;
  std::unique_ptr<tokenizer::Detokenizer> detok_;
  StopSet stops_;
  Limits limits_;
  std::unique_ptr<constrain::Matcher> matcher_;
  uint32_t n_ctx_;
  std::vector<TokenId> tokens_;
  std::string text_;     // emitted
  std::string pending_;  // decoded, held back as a possible stop-string prefix
  Error error_;
};

struct RunResult {
  StopReason stop = StopReason::kNone;
  std::string text;
  std::vector<TokenId> tokens;
  double prefill_ms = 0;  // the prompt's forward pass, to the first token
  double decode_ms = 0;   // first token to the end
  Error error;            // when stop == kError
};

// One sequence from an empty KV slot `seq` of `kv`: prefill the prompt in one batch, then
// sample and feed one token at a time until `sequence` stops. `on_text(id, text)` gets each
// showable piece; returning false cancels. The sampler sees the prompt first (repetition
// penalty). Precondition: the prompt is non-empty and shorter than the slot's n_ctx.
RunResult run_sequence(engine::Gemma4Forward& forward, runtime::KvCachePool& kv, int32_t seq,
                       std::span<const TokenId> prompt, sampler::Sampler& sampler,
                       Sequence& sequence,
                       const std::function<bool(TokenId, const std::string&)>& on_text);

}  // namespace gemmad::generate
