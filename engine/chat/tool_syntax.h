// Gemma 4's value syntax inside tool declarations, calls and responses (docs/GEMMA4.md §5.4
// "Tool syntax"): objects `{key:value,...}` with bare keys, strings between `<|"|>` tokens,
// numbers / true / false / null / arrays as in JSON. write_gemma_value() turns a JSON value
// into that syntax as a sequence of pieces (text, or the string delimiter token), so the
// chat format can emit the delimiter as its control token and never tokenize it from text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gemmad::chat {

inline constexpr std::string_view kStringDelim = "<|\"|>";

// Receives the pieces of a rendered value in order.
class ValueSink {
 public:
  virtual ~ValueSink() = default;
  virtual void text(std::string_view t) = 0;
  virtual void string_delim() = 0;  // the <|"|> token
};

// `upper_type_values`: string values of a key named "type" are written in upper case
// (STRING, OBJECT, ...), as declarations render JSON Schema types (docs/GEMMA4.md §5.4).
void write_gemma_value(const nlohmann::json& value, ValueSink& sink,
                       bool upper_type_values = false);

// The same as one string, with <|"|> written out.
std::string gemma_value_text(const nlohmann::json& value, bool upper_type_values = false);

}  // namespace gemmad::chat
