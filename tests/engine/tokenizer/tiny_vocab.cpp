// Test helper: the hand-made vocabulary of tiny_vocab.h.
#include "tiny_vocab.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace gemmad::tokenizer::testing {

VocabData tiny_vocab_data() {
  VocabData d;
  const auto add = [&](std::string text, TokenType type) {
    d.tokens.push_back(std::move(text));
    d.types.push_back(type);
  };
  add("<pad>", TokenType::kControl);
  add("<eos>", TokenType::kControl);
  add("<bos>", TokenType::kControl);
  add("<unk>", TokenType::kControl);
  add("<|turn>", TokenType::kControl);
  add("<turn|>", TokenType::kControl);
  add("<|channel>", TokenType::kUserDefined);
  add("\n", TokenType::kUserDefined);
  add("\n\n", TokenType::kUserDefined);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(name, TokenType::kByte);
  }
  for (const char* t : {"\u2581", "a", "b", "c", "ab", "bc", "abc", "\u2581a", "aa", "aaaa", "x",
                        "x\u2581", "\u00eb"}) {
    add(t, TokenType::kNormal);
  }
  // By rank: "a b" first, so " ab" becomes ▁ + ab, never ▁a + b.
  d.merges = {"a b", "b c", "ab c", "\u2581 a", "a a", "aa aa", "x \u2581"};
  d.bos_id = kBos;
  d.eos_id = kEos;
  d.unk_id = kUnk;
  d.pad_id = kPad;
  return d;
}

std::unique_ptr<Tokenizer> load_tiny(const VocabData& data) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("gemmad-tiny-vocab-" + std::to_string(::getpid()) + ".gguf"))
                               .string();
  if (auto st = write_vocab_gguf(data, path); !st.ok()) {
    throw std::runtime_error("write_vocab_gguf: " + st.error().message);
  }
  auto tok = Tokenizer::load(path);
  std::filesystem::remove(path);
  if (!tok.ok()) throw std::runtime_error("Tokenizer::load: " + tok.error().message);
  return std::move(tok).value();
}

}  // namespace gemmad::tokenizer::testing
