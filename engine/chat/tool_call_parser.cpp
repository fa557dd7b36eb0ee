// Recursive-descent parser of Gemma 4's tool syntax (docs/GEMMA4.md §5.4 "Tool syntax").
#include "chat/tool_call_parser.h"

#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "chat/tool_syntax.h"

namespace gemmad::chat {
namespace {

using nlohmann::json;

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Error fail(const std::string& why) const {
    return make_error(ErrorCode::kInvalidArgument,
                      "tool call: " + why + " at byte " + std::to_string(pos_));
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  bool eat(std::string_view lit) {
    if (s_.substr(pos_).starts_with(lit)) {
      pos_ += lit.size();
      return true;
    }
    return false;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  size_t pos() const { return pos_; }

  static bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  }

  Result<std::string> name() {
    const size_t b = pos_;
    if (at_end() || !name_start(s_[pos_])) return fail("expected a name");
    while (pos_ < s_.size() && name_char(s_[pos_]))
      ++pos_;
    if (pos_ - b > 64) return fail("a name longer than 64 bytes");
    return std::string(s_.substr(b, pos_ - b));
  }

  Result<json> value(size_t depth) {
    if (depth > kMaxToolCallDepth) {
      return fail("nesting deeper than " + std::to_string(kMaxToolCallDepth));
    }
    skip_space();
    if (at_end()) return fail("expected a value, found the end");
    const char c = s_[pos_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (eat(kStringDelim)) {
      const size_t end = s_.find(kStringDelim, pos_);
      if (end == std::string_view::npos) return fail("a string without its closing <|\"|>");
      json v = std::string(s_.substr(pos_, end - pos_));
      pos_ = end + kStringDelim.size();
      return v;
    }
    if (eat("true")) return json(true);
    if (eat("false")) return json(false);
    if (eat("null")) return json(nullptr);
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return number();
    return fail(std::string("unexpected '") + c + "'");
  }

  // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Result<json> number() {
    const size_t b = pos_;
    const auto digits = [&] {
      const size_t d = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])))
        ++pos_;
      return pos_ - d;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return fail("a number without digits");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return fail("no digits after the decimal point");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return fail("no digits in the exponent");
    }
    json v = json::parse(s_.substr(b, pos_ - b), nullptr, /*allow_exceptions=*/false);
    if (v.is_discarded()) return fail("a malformed number");
    if (v.is_number_float() && !std::isfinite(v.get<double>())) {
      return fail("a number out of range");
    }
    return v;
  }

  Result<json> object(size_t depth) {
    ++pos_;  // {
    json v = json::object();
    skip_space();
    if (eat("}")) return v;
    while (true) {
      skip_space();
      GEMMAD_ASSIGN_OR_RETURN(std::string key, name());
      skip_space();
      if (!eat(":")) return fail("expected ':' after key '" + key + "'");
      GEMMAD_ASSIGN_OR_RETURN(json item, value(depth + 1));
      if (v.contains(key)) return fail("key '" + key + "' appears twice");
      v[key] = std::move(item);
      skip_space();
      if (eat("}")) return v;
      if (!eat(",")) return fail("expected ',' or '}'");
    }
  }

  Result<json> array(size_t depth) {
    ++pos_;  // [
    json v = json::array();
    skip_space();
    if (eat("]")) return v;
    while (true) {
      GEMMAD_ASSIGN_OR_RETURN(json item, value(depth + 1));
      v.push_back(std::move(item));
      skip_space();
      if (eat("]")) return v;
      if (!eat(",")) return fail("expected ',' or ']'");
    }
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<ToolCall> parse_tool_call(std::string_view text) {
  Parser p(text);
  p.skip_space();
  if (!p.eat("call:")) return p.fail("expected 'call:'");
  ToolCall call;
  GEMMAD_ASSIGN_OR_RETURN(call.name, p.name());
  p.skip_space();
  if (p.at_end() || !p.eat("{")) return p.fail("expected '{' after the function name");
  // Re-enter the object parser at the brace.
  Parser args(text.substr(p.pos() - 1));
  auto v = args.value(0);
  if (!v.ok()) {
    return make_error(ErrorCode::kInvalidArgument, v.error().message +
                                                       " (of the arguments, which start at byte " +
                                                       std::to_string(p.pos() - 1) + ")");
  }
  args.skip_space();
  if (!args.at_end()) {
    return make_error(ErrorCode::kInvalidArgument, "tool call: text after the arguments at byte " +
                                                       std::to_string(p.pos() - 1 + args.pos()));
  }
  call.arguments_json = v->dump(-1, ' ', false, json::error_handler_t::replace);
  return call;
}

Result<std::string> gemma_value_to_json(std::string_view text) {
  Parser p(text);
  GEMMAD_ASSIGN_OR_RETURN(json v, p.value(0));
  p.skip_space();
  if (!p.at_end()) return p.fail("text after the value");
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace gemmad::chat
