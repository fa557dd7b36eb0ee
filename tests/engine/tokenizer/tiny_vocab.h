// Test helper: a hand-made vocabulary small enough to derive encodings by hand, written to a
// GGUF with GgufWriter and loaded back through the real loader.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gemmad::tokenizer::testing {

// Ids of the tiny vocabulary (see tiny_vocab.cpp for the merges).
enum TinyId : TokenId {
  kPad = 0,
  kEos = 1,
  kBos = 2,
  kUnk = 3,
  kTurn = 4,     // "<|turn>" control
  kTurnEnd = 5,  // "<turn|>" control
  kChannel = 6,  // "<|channel>" user-defined
  kNl = 7,       // "\n" user-defined
  kNlNl = 8,     // "\n\n" user-defined
  kByte0 = 9,    // <0x00>..<0xFF> are 9..264
  kSpace = 265,  // "▁"
  kA,
  kB,
  kC,
  kAB,
  kBC,
  kABC,
  kSpaceA,
  kAA,
  kAAAA,
  kX,
  kXSpace,      // "x▁": a token with a non-space character before U+2581
  kEDiaeresis,  // "ë" (U+00EB); "é" (U+00E9) deliberately has no token
  kTinySize,
};

inline TokenId byte_id(unsigned char b) {
  return kByte0 + b;
}

VocabData tiny_vocab_data();
// Writes tiny_vocab_data() (optionally edited) to a temp GGUF and loads it.
std::unique_ptr<Tokenizer> load_tiny(const VocabData& data = tiny_vocab_data());

}  // namespace gemmad::tokenizer::testing
