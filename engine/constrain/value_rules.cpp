// Grammar pieces of JSON values in both dialects; see value_rules.h.
#include "constrain/value_rules.h"

#include <map>

namespace gemmad::constrain {
namespace {

using Seq = GrammarBuilder::Seq;

SymbolSet bytes_of(std::string_view s) {
  SymbolSet out;
  for (const char c : s)
    out.set(static_cast<uint8_t>(c));
  return out;
}

}  // namespace

uint32_t ValueRules::ws() {
  if (!ws_) ws_ = b_.rule({Seq{}, b_.lit(" ")});
  return *ws_;
}

Seq ValueRules::comma() {
  if (d_ == Dialect::kGemmaArgs) return b_.lit(",");
  return {b_.sym(','), b_.ref(ws())};
}

Seq ValueRules::colon() {
  if (d_ == Dialect::kGemmaArgs) return b_.lit(":");
  return {b_.sym(':'), b_.ref(ws())};
}

Seq ValueRules::quote() {
  return {d_ == Dialect::kGemmaArgs ? b_.sym(kSymQuote) : b_.sym('"')};
}

// One character of a JSON string as written: a printable ASCII character other than '"' and
// '\\', a well-formed multi-byte UTF-8 character, or an escape.
uint32_t ValueRules::json_char() {
  if (json_char_) return *json_char_;
  const Elem cont = b_.set(range_set(0x80, 0xbf));
  std::vector<Seq> alts;
  SymbolSet ascii = range_set(0x20, 0x7f);
  ascii.reset('"');
  ascii.reset('\\');
  if (d_ == Dialect::kGemmaArgs) {
    // Raw text between <|"|> delimiters: quotes and backslashes are plain, newlines and tabs
    // too; '<' is handled by the caller (it may not start "<|").
    ascii.set('"');
    ascii.set('\\');
    ascii.set('\n');
    ascii.set('\t');
    ascii.reset('<');
  }
  std::vector<Seq> multi;
  multi.push_back({b_.set(range_set(0xc2, 0xdf)), cont});
  multi.push_back({b_.sym(0xe0), b_.set(range_set(0xa0, 0xbf)), cont});
  multi.push_back({b_.set(range_set(0xe1, 0xec)), cont, cont});
  multi.push_back({b_.sym(0xed), b_.set(range_set(0x80, 0x9f)), cont});
  multi.push_back({b_.set(range_set(0xee, 0xef)), cont, cont});
  multi.push_back({b_.sym(0xf0), b_.set(range_set(0x90, 0xbf)), cont, cont});
  multi.push_back({b_.set(range_set(0xf1, 0xf3)), cont, cont, cont});
  multi.push_back({b_.sym(0xf4), b_.set(range_set(0x80, 0x8f)), cont, cont});
  multi_ = b_.rule(multi);
  alts.push_back({b_.set(ascii)});
  alts.push_back({b_.ref(*multi_)});
  if (d_ == Dialect::kJson) {
    alts.push_back({b_.sym('\\'), b_.set(bytes_of("\"\\/bfnrt"))});
    SymbolSet hex = range_set('0', '9') | range_set('a', 'f') | range_set('A', 'F');
    const Elem h = b_.set(hex);
    alts.push_back({b_.sym('\\'), b_.sym('u'), h, h, h, h});
  }
  json_char_ = b_.rule(alts);
  return *json_char_;
}

// A string of min_len..max_len characters. In kGemmaArgs the text may not contain "<|" (it
// would read back as the start of a special token such as <|"|>), so each count has two
// rules: after '<' or not.
uint32_t ValueRules::string(int64_t min_len, std::optional<int64_t> max_len) {
  const bool gemma = d_ == Dialect::kGemmaArgs;
  if (min_len == 0 && !max_len && any_string_) return *any_string_;
  const uint32_t ch = json_char();
  if (gemma && !gemma_no_pipe_) {
    // After '<': any character but '<' and '|'.
    SymbolSet ascii = range_set(0x20, 0x7f);
    ascii.set('\n');
    ascii.set('\t');
    ascii.reset('<');
    ascii.reset('|');
    gemma_no_pipe_ = b_.rule({{b_.set(ascii)}, {b_.ref(*multi_)}});
  }
  // Rules T(k, after_lt): k characters written so far (k capped at min_len when unbounded).
  std::map<std::pair<int64_t, int>, uint32_t> t;
  const int64_t top = max_len ? *max_len : min_len;
  for (int64_t k = top; k >= 0; --k) {
    for (int p = gemma ? 1 : 0; p >= 0; --p)
      t[{k, p}] = b_.new_rule();
  }
  for (int64_t k = top; k >= 0; --k) {
    const int64_t next = max_len ? k + 1 : std::min(k + 1, min_len);
    const bool more = !max_len || k < *max_len;
    for (int p = 0; p <= (gemma ? 1 : 0); ++p) {
      const uint32_t r = t[{k, p}];
      if (k >= min_len) b_.add_alt(r, {});
      if (!more) continue;
      if (gemma) {
        // After '<' only a character that is not '|' (the "<|" rule), or another '<'.
        b_.add_alt(r, {b_.ref(p ? *gemma_no_pipe_ : ch), b_.ref(t[{next, 0}])});
        b_.add_alt(r, {b_.sym('<'), b_.ref(t[{next, 1}])});
      } else {
        b_.add_alt(r, {b_.ref(ch), b_.ref(t[{next, 0}])});
      }
    }
  }
  Seq s = quote();
  s.push_back(b_.ref(t[{0, 0}]));
  GrammarBuilder::append(s, quote());
  const uint32_t r = b_.rule({s});
  if (min_len == 0 && !max_len) any_string_ = r;
  return r;
}

uint32_t ValueRules::repeat(const Seq& item, const Seq& sep, int64_t min,
                            std::optional<int64_t> max) {
  if (max && *max == 0) return b_.rule({Seq{}});
  // R(k): k items written. Unbounded: R(k) for k >= min is the loop U.
  std::optional<uint32_t> loop;
  if (!max) {
    loop = b_.new_rule();
    Seq again = sep;
    GrammarBuilder::append(again, item);
    again.push_back(b_.ref(*loop));
    b_.add_alt(*loop, {});
    b_.add_alt(*loop, again);
  }
  const int64_t top = max ? *max : std::max<int64_t>(min, 1);
  std::vector<uint32_t> r(static_cast<size_t>(top) + 1);
  for (int64_t k = top; k >= 1; --k) {
    const auto ku = static_cast<size_t>(k);
    if (!max && k >= min) {
      r[ku] = *loop;
      continue;
    }
    r[ku] = b_.new_rule();
    if (k >= min) b_.add_alt(r[ku], {});
    if (k < top || !max) {
      Seq next = sep;
      GrammarBuilder::append(next, item);
      next.push_back(b_.ref(k + 1 <= top ? r[ku + 1] : *loop));
      b_.add_alt(r[ku], next);
    }
  }
  const uint32_t first = b_.new_rule();
  if (min == 0) b_.add_alt(first, {});
  Seq s = item;
  s.push_back(b_.ref(r[1]));
  b_.add_alt(first, s);
  return first;
}

uint32_t ValueRules::integer() {
  if (integer_) return *integer_;
  const Elem digit = b_.set(range_set('0', '9'));
  const uint32_t more = repeat({digit}, {}, 0, kMaxIntDigits - 1);
  const uint32_t mag = b_.rule({b_.lit("0"), {b_.set(range_set('1', '9')), b_.ref(more)}});
  integer_ = b_.rule({{b_.ref(mag)}, {b_.sym('-'), b_.ref(mag)}});
  return *integer_;
}

uint32_t ValueRules::number() {
  if (number_) return *number_;
  const Elem digit = b_.set(range_set('0', '9'));
  const uint32_t frac_digits = repeat({digit}, {}, 1, kMaxFracDigits);
  const uint32_t exp_digits = repeat({digit}, {}, 1, kMaxExpDigits);
  const uint32_t frac = b_.rule({Seq{}, {b_.sym('.'), b_.ref(frac_digits)}});
  const uint32_t sign = b_.rule({Seq{}, b_.lit("+"), b_.lit("-")});
  const uint32_t exp = b_.rule({Seq{}, {b_.set(bytes_of("eE")), b_.ref(sign), b_.ref(exp_digits)}});
  number_ = b_.rule({{b_.ref(integer()), b_.ref(frac), b_.ref(exp)}});
  return *number_;
}

uint32_t ValueRules::boolean() {
  if (!boolean_) boolean_ = b_.rule({b_.lit("true"), b_.lit("false")});
  return *boolean_;
}

uint32_t ValueRules::null() {
  if (!null_) null_ = b_.rule({b_.lit("null")});
  return *null_;
}

uint32_t ValueRules::gemma_key() {
  if (gemma_key_) return *gemma_key_;
  const SymbolSet first = range_set('a', 'z') | range_set('A', 'Z') | bytes_of("_");
  const Elem rest = b_.set(first | range_set('0', '9'));
  const uint32_t tail = repeat({rest}, {}, 0, std::nullopt);
  gemma_key_ = b_.rule({{b_.set(first), b_.ref(tail)}});
  return *gemma_key_;
}

Seq ValueRules::key(const std::string& name) {
  if (d_ == Dialect::kGemmaArgs) {
    Seq s = b_.lit(name);
    GrammarBuilder::append(s, colon());
    return s;
  }
  Seq s = b_.lit(nlohmann::ordered_json(name).dump());
  GrammarBuilder::append(s, colon());
  return s;
}

uint32_t ValueRules::any_object(std::optional<uint32_t> value_rule) {
  const uint32_t v = value_rule ? *value_rule : any_value();
  Seq pair = {b_.ref(d_ == Dialect::kGemmaArgs ? gemma_key() : string())};
  GrammarBuilder::append(pair, colon());
  pair.push_back(b_.ref(v));
  const uint32_t body = repeat(pair, comma(), 0, std::nullopt);
  return b_.rule({{b_.sym('{'), b_.ref(body), b_.sym('}')}});
}

uint32_t ValueRules::any_value() {
  if (any_) return *any_;
  any_ = b_.new_rule();
  const uint32_t items = repeat({b_.ref(*any_)}, comma(), 0, std::nullopt);
  const uint32_t arr = b_.rule({{b_.sym('['), b_.ref(items), b_.sym(']')}});
  const uint32_t obj = any_object(*any_);
  for (const uint32_t r : {obj, arr, string(), number(), boolean(), null()})
    b_.add_alt(*any_, {b_.ref(r)});
  return *any_;
}

Seq ValueRules::literal(const nlohmann::ordered_json& v) {
  if (d_ == Dialect::kJson) return b_.lit(v.dump());
  Seq s;
  if (v.is_string()) {
    s = quote();
    GrammarBuilder::append(s, b_.lit(v.get<std::string>()));
    GrammarBuilder::append(s, quote());
  } else if (v.is_object()) {
    s = b_.lit("{");
    bool first = true;
    for (const auto& [k, item] : v.items()) {
      if (!first) GrammarBuilder::append(s, b_.lit(","));
      first = false;
      GrammarBuilder::append(s, b_.lit(k + ":"));
      GrammarBuilder::append(s, literal(item));
    }
    GrammarBuilder::append(s, b_.lit("}"));
  } else if (v.is_array()) {
    s = b_.lit("[");
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) GrammarBuilder::append(s, b_.lit(","));
      GrammarBuilder::append(s, literal(v[i]));
    }
    GrammarBuilder::append(s, b_.lit("]"));
  } else {
    s = b_.lit(v.dump());
  }
  return s;
}

}  // namespace gemmad::constrain
