// Token sampling for one sequence (docs/GEMMA4.md §5.3): repetition penalty over a window of
// recent tokens, temperature, top-k, top-p, min-p, then a draw from a seeded RNG; greedy when
// temperature <= 0 or top_k == 1. When to stop is not the sampler's business: the stop set,
// max_tokens and the context rule live in generate/generation.h.
//
// A batch of sequences holds one Sampler each (its own RNG, history and scratch);
// sample_batch() samples every row of a [n_seq][vocab] logits matrix. Given the same seed,
// parameters, logits and history, a Sampler draws the same tokens on every run and machine.
// Not thread-safe: one thread per Sampler at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::sampler {

using TokenId = int32_t;

struct SamplingParams {
  float temperature = 1.0f;         // <= 0: greedy
  int32_t top_k = 64;               // <= 0: off
  float top_p = 0.95f;              // >= 1: off
  float min_p = 0.0f;               // <= 0: off; keeps p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; > 1 discourages the recent tokens
  int32_t repetition_window = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

// Errors name the parameter and its allowed range (e.g. a NaN temperature, top_p of 2).
Status validate(const SamplingParams& params);

class Sampler {
 public:
  // Validates the parameters first (for values from a request or the command line).
  static Result<Sampler> create(SamplingParams params);
  // Precondition: validate(params).ok().
  explicit Sampler(SamplingParams params);

  // Picks a token from one row of logits [vocab] and records it in the history. Logits are
  // not modified. NaN logits are never chosen; if every logit is NaN or -inf, returns 0; a
  // +inf logit is certain (the lowest such id).
  TokenId sample(std::span<const float> logits);

  // Records a token without sampling it (the prompt, for the repetition penalty).
  void accept(TokenId id);

  const SamplingParams& params() const { return params_; }
  bool is_greedy() const { return params_.temperature <= 0.0f || params_.top_k == 1; }

 private:
  struct Candidate {
    float logit;
    TokenId id;
  };
  double uniform();  // [0, 1) from the seeded RNG, 53 bits
  void penalized_logits(std::span<const float> logits);
  TokenId argmax(std::span<const float> logits) const;
  void select_top_k(std::span<const float> logits, size_t k);
  void select_all(std::span<const float> logits);
  TokenId draw();

  SamplingParams params_;
  uint64_t rng_state_[4];  // xoshiro256**
  std::deque<TokenId> recent_;
  std::vector<TokenId> penalized_ids_;  // distinct ids of recent_, scratch
  std::vector<float> penalized_vals_;
  std::vector<float> penalized_row_;   // the logits with penalties applied, scratch
  std::vector<Candidate> candidates_;  // scratch
};

// Samples every row of `logits` ([samplers.size()][vocab], row-major) into `out`.
// Precondition: logits.size() == samplers.size() * vocab and out.size() == samplers.size().
void sample_batch(std::span<Sampler* const> samplers, std::span<const float> logits, size_t vocab,
                  std::span<TokenId> out);

}  // namespace gemmad::sampler
