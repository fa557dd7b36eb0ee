// Test helper: a TokenIndex whose tokens are the 256 bytes plus <|"|> (id 256), so a grammar
// can be run over any string; and a tokenizer-based one for vocabulary tests.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/token_index.h"

namespace gemmad::constrain::testing {

inline std::shared_ptr<const TokenIndex> byte_index() {
  std::vector<std::basic_string<uint16_t>> syms(257);
  for (uint16_t b = 0; b < 256; ++b)
    syms[b] = std::basic_string<uint16_t>(1, b);
  syms[256] = std::basic_string<uint16_t>(1, kSymQuote);
  return TokenIndex::build(257, std::move(syms));
}

enum class Outcome { kRejected, kPrefix, kComplete, kMustEnd };

// Runs `text` byte by byte (the text <|"|> as the special token), checking each byte against
// the mask before accepting it.
inline Outcome run(const std::shared_ptr<const Grammar>& g, std::string_view text) {
  static const auto index = byte_index();
  Matcher m(g, index);
  for (size_t i = 0; i < text.size();) {
    TokenId id = static_cast<uint8_t>(text[i]);
    size_t len = 1;
    if (text.substr(i).starts_with(kQuoteTokenText)) {
      id = 256;
      len = kQuoteTokenText.size();
    }
    const bool allowed = m.is_allowed(id);
    const bool accepted = m.accept(id).ok();
    if (allowed != accepted) return Outcome::kRejected;  // mask and accept disagree: a bug
    if (!accepted) return Outcome::kRejected;
    i += len;
  }
  if (m.must_end()) return Outcome::kMustEnd;
  return m.complete() ? Outcome::kComplete : Outcome::kPrefix;
}

inline bool valid(const std::shared_ptr<const Grammar>& g, std::string_view text) {
  const Outcome o = run(g, text);
  return o == Outcome::kComplete || o == Outcome::kMustEnd;
}

}  // namespace gemmad::constrain::testing
