// Internal: a vocabulary as views (into a GGUF mapping or a VocabData), so that building a
// tokenizer from a 262k-token file does not copy 777k strings first.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace gemmad::tokenizer {

struct VocabView {
  std::vector<std::string_view> tokens;
  std::vector<TokenType> types;
  std::vector<std::string_view> merges;
  TokenId bos_id = 2;
  TokenId eos_id = 1;
  TokenId unk_id = 3;
  TokenId pad_id = 0;
  TokenId mask_id = -1;
  bool add_bos = true;
  std::string_view chat_template;
};

// Views into `file`, which must outlive the result. Validates what read_vocab() validates.
Result<VocabView> read_vocab_view(const gguf::GgufFile& file);
// Views into `data`, which must outlive the result.
VocabView view_of(const VocabData& data);

}  // namespace gemmad::tokenizer
