// Import of a Hugging Face tokenizer.json (BPE with byte fallback) into VocabData, with the
// Gemma 4 special-token renames of docs/TOKENIZER.md ("Special tokens: what Gemma 4 renamed")
// and the token types of docs/GEMMA4.md §5.2. Used by `gemmactl model import-vocab` and tests.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tokenizer/vocab.h"

namespace gemmad::tokenizer {

// The Gemma 4 vocabulary size (docs/TOKENIZER.md): ids 0..262143.
inline constexpr size_t kGemma4VocabSize = 262144;

struct VocabImportOptions {
  // Rename the Gemma 3 slots to their Gemma 4 meanings and drop id 262144. When set, the
  // vocabulary must have 262144 entries (or 262145, the last being dropped).
  bool gemma4 = true;
};

struct VocabImportSummary {
  size_t n_tokens = 0;
  size_t n_merges = 0;
  size_t n_normal = 0;
  size_t n_control = 0;
  size_t n_user_defined = 0;
  size_t n_byte = 0;
  size_t n_renamed = 0;
  bool dropped_last = false;  // id 262144 (<image_soft_token>) was dropped
};

// Parses tokenizer.json text. Token types: added tokens with "special": true -> control, other
// added tokens -> user-defined (Hugging Face matches every added token in raw text, and
// llama.cpp types non-special added tokens user-defined), <0xXX> -> byte, the rest normal;
// then the Gemma 4 renames set control, except the seven tokens the llama.cpp converter
// forces to user-defined (docs/GEMMA4.md §5.2). Errors name the JSON field.
Result<VocabData> import_hf_tokenizer_json(std::string_view json_text,
                                           const VocabImportOptions& options = {},
                                           VocabImportSummary* summary = nullptr);

// Reads `path` and imports it.
Result<VocabData> import_hf_tokenizer_file(const std::string& path,
                                           const VocabImportOptions& options = {},
                                           VocabImportSummary* summary = nullptr);

}  // namespace gemmad::tokenizer
