// base64 decoding (see base64.h): four characters to three bytes, a short last group allowed.
#include "daemon/http/base64.h"

#include <string>

namespace gemmad::http {
namespace {

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=')
    text.remove_suffix(1);
  if (text.size() % 4 == 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "base64 of " + std::to_string(text.size()) +
                          " characters (without '=') is not a whole number of bytes");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = value_of(text[i]);
    if (v < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "base64: character " + std::to_string(static_cast<unsigned char>(text[i])) +
                            " at offset " + std::to_string(i) + " is not in the alphabet");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

}  // namespace gemmad::http
