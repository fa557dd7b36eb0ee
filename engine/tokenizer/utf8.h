// UTF-8 helpers for the tokenizer: character scanning that never fails on invalid input, and
// the "maximal subpart" U+FFFD replacement used by the detokenizer (Unicode §3.9, D93b).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gemmad::tokenizer::utf8 {

inline constexpr uint32_t kInvalid = 0xFFFFFFFFu;
inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// One step of a scan: the code point at `s[pos]` and its length in bytes. An ill-formed byte
// sequence yields {kInvalid, n} where n covers the maximal ill-formed subpart (at least 1), so
// a loop over next_char() always advances and visits every byte exactly once.
struct Char {
  uint32_t cp;
  uint32_t len;
};
Char next_char(std::string_view s, size_t pos);

// Length of the UTF-8 prefix of `s` that can be emitted now: every complete character and
// every ill-formed subpart, but not a trailing incomplete-yet-valid prefix of a character
// (at most 3 bytes) that later bytes may complete.
size_t complete_prefix(std::string_view s);

// Appends `s` to `out` with each ill-formed subpart replaced by U+FFFD.
void append_sanitized(std::string_view s, std::string& out);

// True when `s` is well-formed UTF-8.
bool is_valid(std::string_view s);

// Appends the UTF-8 encoding of a code point (cp <= 0x10FFFF, not a surrogate).
void append_cp(uint32_t cp, std::string& out);

}  // namespace gemmad::tokenizer::utf8
