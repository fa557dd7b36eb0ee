// A tokenizer vocabulary as stored in GGUF keys (docs/GEMMA4.md §5.2, docs/TOKENIZER.md):
// read from a GgufFile (vocabulary-only or full model) and written with a GgufWriter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace gemmad::tokenizer {

using TokenId = int32_t;

// llama.cpp's tokenizer.ggml.token_type values (docs/TOKENIZER.md "Special tokens").
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // matched in text only when the caller allows special tokens
  kUserDefined = 4,  // always matched in text before BPE
  kUnused = 5,
  kByte = 6,  // <0xXX> byte fallback
};

// GGUF key names (llama.cpp layout).
inline constexpr const char* kKeyModel = "tokenizer.ggml.model";
inline constexpr const char* kKeyTokens = "tokenizer.ggml.tokens";
inline constexpr const char* kKeyScores = "tokenizer.ggml.scores";
inline constexpr const char* kKeyTokenType = "tokenizer.ggml.token_type";
inline constexpr const char* kKeyMerges = "tokenizer.ggml.merges";
inline constexpr const char* kKeyBos = "tokenizer.ggml.bos_token_id";
inline constexpr const char* kKeyEos = "tokenizer.ggml.eos_token_id";
inline constexpr const char* kKeyUnk = "tokenizer.ggml.unknown_token_id";
inline constexpr const char* kKeyPad = "tokenizer.ggml.padding_token_id";
inline constexpr const char* kKeyMask = "tokenizer.ggml.mask_token_id";
inline constexpr const char* kKeyAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr const char* kKeyAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr const char* kKeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
inline constexpr const char* kKeyChatTemplate = "tokenizer.chat_template";

// The only tokenizer.ggml.model this tokenizer implements (docs/GEMMA4.md §5.1).
inline constexpr const char* kModelGemma4 = "gemma4";

// Upper bounds that reject hostile files before large allocations.
inline constexpr size_t kMaxVocabSize = size_t{1} << 24;
inline constexpr size_t kMaxMerges = size_t{1} << 24;

// Plain data: everything a tokenizer is built from. Ids index `tokens`.
struct VocabData {
  std::string model = kModelGemma4;
  std::vector<std::string> tokens;
  std::vector<TokenType> types;     // same length as tokens
  std::vector<float> scores;        // empty or same length; unused by BPE
  std::vector<std::string> merges;  // "left right", by rank (index 0 = first merge)
  TokenId bos_id = 2;
  TokenId eos_id = 1;
  TokenId unk_id = 3;
  TokenId pad_id = 0;
  TokenId mask_id = -1;  // -1 = absent
  bool add_bos = true;
  std::string chat_template;  // empty = absent
};

// Reads the tokenizer.ggml.* keys. Errors name the key and the offending value (e.g. a
// tokenizer.ggml.model other than "gemma4", a token_type array of the wrong length).
Result<VocabData> read_vocab(const gguf::GgufFile& file);

// Adds the tokenizer.ggml.* keys (and tokenizer.chat_template if set) to a writer.
void write_vocab_keys(const VocabData& vocab, gguf::GgufWriter& writer);

// Writes a vocabulary-only GGUF: general.architecture "gemma4", general.type "vocab", the
// tokenizer keys, no tensors.
Status write_vocab_gguf(const VocabData& vocab, const std::string& path);

}  // namespace gemmad::tokenizer
