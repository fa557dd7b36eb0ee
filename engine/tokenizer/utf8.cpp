// UTF-8 scanning and U+FFFD replacement (Unicode §3.9 "maximal subpart" practice).
#include "tokenizer/utf8.h"

namespace gemmad::tokenizer::utf8 {
namespace {

// Valid range of the second byte for a lead byte (Unicode Table 3-7); later bytes are 80..BF.
struct LeadInfo {
  uint8_t len;  // 0 = never valid as a lead byte
  uint8_t lo;
  uint8_t hi;
};

LeadInfo lead_info(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // <= U+10FFFF
  return {0, 0, 0};
}

// Scans one character; `incomplete` is set when the input ends inside a so-far-valid prefix.
Char scan(std::string_view s, size_t pos, bool* incomplete) {
  *incomplete = false;
  const auto b0 = static_cast<uint8_t>(s[pos]);
  const LeadInfo info = lead_info(b0);
  if (info.len == 1) return {b0, 1};
  if (info.len == 0) return {kInvalid, 1};
  uint32_t cp = b0 & (0xFF >> (info.len + 1));
  for (uint32_t i = 1; i < info.len; ++i) {
    if (pos + i >= s.size()) {
      *incomplete = true;
      return {kInvalid, i};
    }
    const auto b = static_cast<uint8_t>(s[pos + i]);
    const uint8_t lo = i == 1 ? info.lo : 0x80;
    const uint8_t hi = i == 1 ? info.hi : 0xBF;
    if (b < lo || b > hi) return {kInvalid, i};  // the subpart ends before this byte
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, info.len};
}

}  // namespace

Char next_char(std::string_view s, size_t pos) {
  bool incomplete = false;
  return scan(s, pos, &incomplete);
}

size_t complete_prefix(std::string_view s) {
  // An incomplete character can only start at one of the last 3 bytes, at a lead byte (lead
  // bytes are never continuation bytes, so this is a character start in any scan).
  const size_t first = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t pos = first; pos < s.size(); ++pos) {
    bool incomplete = false;
    scan(s, pos, &incomplete);
    if (incomplete) return pos;
  }
  return s.size();
}

void append_sanitized(std::string_view s, std::string& out) {
  size_t pos = 0;
  size_t run = 0;  // start of the current run of valid bytes, copied in one go
  while (pos < s.size()) {
    const Char c = next_char(s, pos);
    if (c.cp == kInvalid) {
      out.append(s.substr(run, pos - run));
      out.append(kReplacement);
      pos += c.len;
      run = pos;
    } else {
      pos += c.len;
    }
  }
  out.append(s.substr(run));
}

bool is_valid(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Char c = next_char(s, pos);
    if (c.cp == kInvalid) return false;
    pos += c.len;
  }
  return true;
}

void append_cp(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace gemmad::tokenizer::utf8
