// Streaming detokenizer (docs/TOKENIZER.md "Decoding"): token ids in, well-formed UTF-8 out.
// Bytes of a character split across tokens (byte-fallback tokens) are held back until the
// character is complete, so a client never sees a replacement character in the middle of a
// character; an ill-formed sequence is emitted as U+FFFD as soon as it is certainly invalid,
// and whatever is still pending at finish() is flushed as U+FFFD.
// One Detokenizer per sequence; it borrows the Tokenizer, which must outlive it.
#pragma once

#include <string>

#include "common/result.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::tokenizer {

class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(&tokenizer), options_(options) {}

  // Appends the text that became complete with `id` to `out` (possibly nothing). Errors (and
  // changes nothing) if id is outside the vocabulary.
  Status push(TokenId id, std::string& out);
  // Flushes held-back bytes (an incomplete character at the end of the stream) as U+FFFD.
  void finish(std::string& out);
  // Forgets held-back bytes (e.g. when a sequence is cancelled).
  void reset() { pending_.clear(); }
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  DecodeOptions options_;
  std::string pending_;  // at most 3 bytes: an incomplete but so far valid character
};

}  // namespace gemmad::tokenizer
