// A small built-in Gemma-4-style vocabulary for synthetic models written without --vocab:
// the special tokens, whitespace runs and byte tokens at the ids of the real vocabulary
// (docs/TOKENIZER.md, docs/GEMMA4.md §5.2-5.3), then characters and a few BPE merges so that
// plain English text tokenizes, then unreachable filler tokens up to the requested size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "tokenizer/vocab.h"

namespace gemmad::gguf {
class GgufWriter;
}

namespace gemmad::synth {

// tokenizer.ggml.token_type values (docs/TOKENIZER.md), as the tokenizer reads them.
using TokenType = tokenizer::TokenType;

struct SynthVocab {
  std::vector<std::string> tokens;  // id -> text (spaces as U+2581)
  std::vector<TokenType> types;     // id -> type
  std::vector<std::string> merges;  // "left right", by rank
};

// Smallest vocabulary that holds the fixed low ids (0..493) plus a useful character set.
constexpr uint32_t kMinBuiltinVocab = 512;

// Builds the vocabulary of n_vocab entries. Errors if n_vocab < kMinBuiltinVocab.
Result<SynthVocab> build_builtin_vocab(uint32_t n_vocab);

// Writes the tokenizer.* keys (same layout as real Gemma 4 GGUFs, docs/GEMMA4.md §5.2) for `v`.
void write_vocab_keys(gguf::GgufWriter& w, const SynthVocab& v);

}  // namespace gemmad::synth
