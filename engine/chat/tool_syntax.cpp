// JSON value -> Gemma 4 tool syntax (docs/GEMMA4.md §5.4 "Tool syntax").
#include "chat/tool_syntax.h"

#include <cctype>

namespace gemmad::chat {
namespace {

void write(const nlohmann::json& v, ValueSink& sink, bool upper, bool is_type_value) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      sink.text("{");
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) sink.text(",");
        first = false;
        sink.text(it.key());
        sink.text(":");
        write(it.value(), sink, upper, upper && it.key() == "type");
      }
      sink.text("}");
      return;
    }
    case nlohmann::json::value_t::array: {
      sink.text("[");
      bool first = true;
      for (const auto& e : v) {
        if (!first) sink.text(",");
        first = false;
        write(e, sink, upper, is_type_value);  // "type": ["string", "null"]
      }
      sink.text("]");
      return;
    }
    case nlohmann::json::value_t::string: {
      std::string s = v.get<std::string>();
      if (is_type_value) {
        for (char& c : s)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      sink.string_delim();
      sink.text(s);
      sink.string_delim();
      return;
    }
    default:
      sink.text(v.dump());
      return;
  }
}

struct StringSink : ValueSink {
  std::string out;
  void text(std::string_view t) override { out.append(t); }
  void string_delim() override { out.append(kStringDelim); }
};

}  // namespace

void write_gemma_value(const nlohmann::json& value, ValueSink& sink, bool upper_type_values) {
  write(value, sink, upper_type_values, false);
}

std::string gemma_value_text(const nlohmann::json& value, bool upper_type_values) {
  StringSink s;
  write_gemma_value(value, s, upper_type_values);
  return std::move(s.out);
}

}  // namespace gemmad::chat
