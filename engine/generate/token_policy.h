// A per-sequence rule over which token may come next (docs/ARCHITECTURE.md "Channels, tools
// and constrained output"): the scheduler calls mask() on the row's logits before sampling
// and accept() with the sampled token. A forced token is a mask that leaves one token. Used
// for the thought channel's budget, tool choice and grammar-constrained output; a sequence
// without a policy samples exactly as before.
#pragma once

#include <span>

#include "common/result.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::generate {

class TokenPolicy {
 public:
  virtual ~TokenPolicy() = default;
  // Sets the logits of tokens that may not come next to -infinity.
  virtual void mask(std::span<float> logits) = 0;
  // The sampled token; an error (a token mask() forbade) ends the sequence with kError.
  virtual Status accept(tokenizer::TokenId id) = 0;
};

}  // namespace gemmad::generate
