// The grammar pieces of JSON values in both dialects (docs/CONSTRAINED.md "Dialects"):
// strings (UTF-8, escapes in kJson, <|"|> delimiters in kGemmaArgs), numbers, literals,
// separators, and "any value". Shared by the schema compiler and the tool-call grammar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include "constrain/constrain.h"
#include "constrain/grammar.h"

namespace gemmad::constrain {

// Bounds written into the grammar so a value always ends (docs/CONSTRAINED.md "Choices").
inline constexpr int kMaxIntDigits = 16;
inline constexpr int kMaxFracDigits = 16;
inline constexpr int kMaxExpDigits = 3;
// Largest minItems/maxItems/minLength/maxLength a schema may give (grammar size is linear).
inline constexpr int64_t kMaxCount = 4096;

class ValueRules {
 public:
  ValueRules(GrammarBuilder& b, Dialect d) : b_(b), d_(d) {}
  GrammarBuilder& builder() { return b_; }
  Dialect dialect() const { return d_; }

  uint32_t string(int64_t min_len = 0, std::optional<int64_t> max_len = std::nullopt);
  uint32_t integer();
  uint32_t number();
  uint32_t boolean();
  uint32_t null();
  uint32_t any_value();
  uint32_t any_object(std::optional<uint32_t> value_rule);  // keys any string / bare name
  // A literal value (enum/const) in this dialect.
  GrammarBuilder::Seq literal(const nlohmann::ordered_json& v);
  // `rule` repeated min..max times (max empty = unbounded), separated by `sep`.
  uint32_t repeat(const GrammarBuilder::Seq& item, const GrammarBuilder::Seq& sep, int64_t min,
                  std::optional<int64_t> max);

  GrammarBuilder::Seq key(const std::string& name);  // "name": or name:
  GrammarBuilder::Seq comma();                       // "," then optional space
  GrammarBuilder::Seq colon();                       // ":" then optional space (kJson)
  GrammarBuilder::Seq quote();                       // '"' or <|"|>

 private:
  uint32_t json_char();
  uint32_t ws();
  uint32_t gemma_key();

  GrammarBuilder& b_;
  Dialect d_;
  std::optional<uint32_t> json_char_, ws_, integer_, number_, boolean_, null_, any_, any_string_,
      gemma_key_, multi_, gemma_no_pipe_;
};

}  // namespace gemmad::constrain
