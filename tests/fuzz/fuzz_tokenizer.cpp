// libFuzzer target for the tokenizer: arbitrary bytes are encoded (with and without special
// tokens), decoded whole and streamed, and must round-trip when they are well-formed UTF-8;
// the same bytes are also tried as a GGUF vocabulary (loader hardening).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "gguf/gguf_file.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using namespace gemmad::tokenizer;

// A small vocabulary with every token type, byte fallback and chained merges.
std::unique_ptr<Tokenizer> make_tokenizer() {
  VocabData d;
  const auto add = [&](std::string t, TokenType type) {
    d.tokens.push_back(std::move(t));
    d.types.push_back(type);
  };
  for (const char* t : {"<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>"}) {
    add(t, TokenType::kControl);
  }
  for (const char* t : {"<|channel>", "\n", "\n\n", "\t"})
    add(t, TokenType::kUserDefined);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(name, TokenType::kByte);
  }
  for (const char* t : {"\u2581", "a", "b", "c", "ab", "bc", "abc", "\u2581a", "aa", "aaaa",
                        "\u2581\u2581", ">", ">\u2581", "\u00e9"}) {
    add(t, TokenType::kNormal);
  }
  d.merges = {"a b", "b c", "ab c", "\u2581 a", "a a", "aa aa", "\u2581 \u2581", "> \u2581"};
  auto tok = Tokenizer::from_data(d);
  if (!tok.ok()) std::abort();
  return std::move(tok).value();
}

// What decoding must give back: spaces and literal U+2581 both decode to spaces.
std::string expected_text(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 3) == "\xE2\x96\x81") {
      out += ' ';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> tok = make_tokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = utf8::is_valid(text);
  for (const bool special : {false, true}) {
    const auto ids = tok->encode(text, {.add_bos = special, .parse_special = special});
    for (const TokenId id : ids) {
      if (!tok->is_valid_id(id)) std::abort();
    }
    auto whole = tok->decode(ids);
    if (!whole.ok() || !utf8::is_valid(*whole)) std::abort();
    Detokenizer stream(*tok);
    std::string joined;
    for (const TokenId id : ids) {
      if (!stream.push(id, joined).ok()) std::abort();
    }
    stream.finish(joined);
    if (joined != *whole) std::abort();
    if (valid && *whole != (special ? "<bos>" : "") + expected_text(text)) std::abort();
  }
  // The same bytes as a GGUF file: loading must fail cleanly or give a working tokenizer.
  auto file = gemmad::gguf::GgufFile::parse(std::span<const uint8_t>(data, size));
  if (file.ok()) {
    auto t = Tokenizer::from_gguf(**file);
    if (t.ok()) {
      const auto ids = (*t)->encode("fuzz \xC3\xA9 <|turn>\n\n", {.parse_special = true});
      (void)(*t)->decode(ids);
    }
  }
  return 0;
}
