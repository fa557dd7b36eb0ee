// The reserved slots Gemma 4 renamed, with their token types: one table for the tokenizer.json
// import (which applies it to the Gemma 3 vocabulary) and the built-in synthetic vocabulary
// (which writes it). docs/TOKENIZER.md "Special tokens: what Gemma 4 renamed"; types per
// docs/GEMMA4.md §5.2: the seven tokens the converter forces to user-defined, so they are
// printed, and the rest control.
#pragma once

#include <cstdint>

#include "tokenizer/vocab.h"

namespace gemmad::tokenizer {

struct SpecialToken {
  TokenId id;
  const char* text;
  TokenType type;
};

inline constexpr SpecialToken kGemma4RenamedTokens[] = {
    {46, "<|tool>", TokenType::kControl},
    {47, "<tool|>", TokenType::kControl},
    {48, "<|tool_call>", TokenType::kUserDefined},
    {49, "<tool_call|>", TokenType::kUserDefined},
    {50, "<|tool_response>", TokenType::kUserDefined},
    {51, "<tool_response|>", TokenType::kUserDefined},
    {52, "<|\"|>", TokenType::kUserDefined},
    {98, "<|think|>", TokenType::kControl},
    {100, "<|channel>", TokenType::kUserDefined},
    {101, "<channel|>", TokenType::kUserDefined},
    {105, "<|turn>", TokenType::kControl},
    {106, "<turn|>", TokenType::kControl},
    {255999, "<|image>", TokenType::kControl},
    {256000, "<|audio>", TokenType::kControl},
    {258880, "<|image|>", TokenType::kControl},
    {258881, "<|audio|>", TokenType::kControl},
    {258882, "<image|>", TokenType::kControl},
    {258883, "<audio|>", TokenType::kControl},
    {258884, "<|video|>", TokenType::kControl},
};

}  // namespace gemmad::tokenizer
