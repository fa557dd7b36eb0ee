// The plain-regex subset of `pattern` -> grammar rules over encoded string characters; see
// regex.h.
#include "constrain/regex.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gemmad::constrain {
namespace {

using Seq = GrammarBuilder::Seq;

// A set of characters: ASCII ones, plus every non-ASCII character, or one exact UTF-8
// literal (a non-ASCII character written in the pattern).
struct CharSet {
  std::bitset<128> ascii;
  bool non_ascii = false;
  std::string utf8;  // when non-empty: exactly this character
};

struct Node {
  enum Kind { kChar, kSeq, kAlt, kRepeat } kind = kSeq;
  CharSet chars;
  std::vector<std::unique_ptr<Node>> kids;
  int64_t min = 0;
  std::optional<int64_t> max;
};
using NodePtr = std::unique_ptr<Node>;

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<NodePtr> alternation(bool top, std::vector<std::pair<bool, bool>>* anchors) {
    auto alt = std::make_unique<Node>();
    alt->kind = Node::kAlt;
    while (true) {
      bool begin = false, end = false;
      if (top && peek('^')) {
        ++i_;
        begin = true;
      }
      NodePtr seq;
      GEMMAD_ASSIGN_OR_RETURN(seq, sequence(top, &end));
      alt->kids.push_back(std::move(seq));
      if (anchors) anchors->emplace_back(begin, end);
      if (!peek('|')) break;
      ++i_;
    }
    return alt;
  }

  bool done() const { return i_ >= p_.size(); }
  size_t pos() const { return i_; }

 private:
  bool peek(char c) const { return i_ < p_.size() && p_[i_] == c; }

  Error error(const std::string& what) const {
    return make_error(ErrorCode::kInvalidArgument,
                      "pattern: " + what + " at offset " + std::to_string(i_));
  }

  Result<NodePtr> sequence(bool top, bool* end_anchor) {
    auto seq = std::make_unique<Node>();
    seq->kind = Node::kSeq;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$') {
        const bool last = i_ + 1 == p_.size() || p_[i_ + 1] == '|';
        if (!top || !last) return error("'$' is supported only at the end of the pattern");
        ++i_;
        *end_anchor = true;
        break;
      }
      if (p_[i_] == '^') return error("'^' is supported only at the start of the pattern");
      NodePtr atom;
      GEMMAD_ASSIGN_OR_RETURN(atom, this->atom());
      GEMMAD_ASSIGN_OR_RETURN(atom, quantified(std::move(atom)));
      seq->kids.push_back(std::move(atom));
    }
    return seq;
  }

  Result<NodePtr> quantified(NodePtr atom) {
    while (i_ < p_.size()) {
      int64_t lo = 0;
      std::optional<int64_t> hi;
      const char c = p_[i_];
      if (c == '*') {
        ++i_;
      } else if (c == '+') {
        lo = 1;
        ++i_;
      } else if (c == '?') {
        hi = 1;
        ++i_;
      } else if (c == '{') {
        ++i_;
        GEMMAD_ASSIGN_OR_RETURN(lo, number());
        hi = lo;
        if (peek(',')) {
          ++i_;
          hi.reset();
          if (!peek('}')) {
            int64_t h = 0;
            GEMMAD_ASSIGN_OR_RETURN(h, number());
            hi = h;
          }
        }
        if (!peek('}')) return error("'{' without a closing '}'");
        ++i_;
        if (hi && *hi < lo) return error("{m,n} with n below m");
      } else {
        break;
      }
      if (peek('?')) return error("lazy quantifiers are not supported");
      // A loop over something that can be empty would expand forever without reading.
      if ((!hi || *hi > 1) && nullable(*atom))
        return error("a repeated part that can match the empty string");
      auto rep = std::make_unique<Node>();
      rep->kind = Node::kRepeat;
      rep->min = lo;
      rep->max = hi;
      rep->kids.push_back(std::move(atom));
      atom = std::move(rep);
    }
    return atom;
  }

  static bool nullable(const Node& n) {
    switch (n.kind) {
      case Node::kChar:
        return false;
      case Node::kSeq:
        return std::all_of(n.kids.begin(), n.kids.end(),
                           [](const NodePtr& k) { return nullable(*k); });
      case Node::kAlt:
        return std::any_of(n.kids.begin(), n.kids.end(),
                           [](const NodePtr& k) { return nullable(*k); });
      case Node::kRepeat:
        return n.min == 0 || nullable(*n.kids[0]);
    }
    return false;
  }

  Result<int64_t> number() {
    int64_t n = 0;
    const size_t start = i_;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9') {
      n = n * 10 + (p_[i_] - '0');
      if (n > kMaxCount) return error("a count above " + std::to_string(kMaxCount));
      ++i_;
    }
    if (i_ == start) return error("a count must be a number");
    return n;
  }

  static NodePtr char_node(CharSet s) {
    auto n = std::make_unique<Node>();
    n->kind = Node::kChar;
    n->chars = std::move(s);
    return n;
  }

  // \d \w \s and their complements; or a literal escaped character.
  Result<CharSet> escape(bool in_class) {
    if (i_ >= p_.size()) return error("a trailing '\\'");
    const char c = p_[i_++];
    CharSet s;
    auto range = [&](char lo, char hi) {
      for (char x = lo; x <= hi; ++x)
        s.ascii.set(static_cast<size_t>(x));
    };
    switch (c) {
      case 'd':
      case 'D':
        range('0', '9');
        break;
      case 'w':
      case 'W':
        range('0', '9');
        range('a', 'z');
        range('A', 'Z');
        s.ascii.set('_');
        break;
      case 's':
      case 'S':
        for (const char x : {' ', '\t', '\n', '\r', '\f', '\v'})
          s.ascii.set(static_cast<size_t>(x));
        break;
      case 'n':
        s.ascii.set('\n');
        return s;
      case 't':
        s.ascii.set('\t');
        return s;
      case 'r':
        s.ascii.set('\r');
        return s;
      default:
        if (std::isalnum(static_cast<unsigned char>(c))) {
          --i_;
          return error(std::string("escape '\\") + c + "' is not supported");
        }
        if (static_cast<unsigned char>(c) >= 0x80) return error("an escaped non-ASCII character");
        s.ascii.set(static_cast<size_t>(c));
        return s;
    }
    if (c == 'D' || c == 'W' || c == 'S') {
      if (in_class) return error(std::string("'\\") + c + "' inside a class is not supported");
      s.ascii.flip();
      s.non_ascii = true;
    } else if (c == 's') {
      s.non_ascii = false;
    }
    return s;
  }

  Result<NodePtr> atom() {
    const char c = p_[i_];
    if (c == '(') {
      ++i_;
      if (p_.substr(i_).starts_with("?:")) {
        i_ += 2;
      } else if (peek('?')) {
        return error("group modifiers other than '(?:' are not supported");
      }
      NodePtr inner;
      GEMMAD_ASSIGN_OR_RETURN(inner, alternation(false, nullptr));
      if (!peek(')')) return error("'(' without a closing ')'");
      ++i_;
      return inner;
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++i_;
      CharSet s;
      s.ascii.set();
      s.ascii.reset('\n');
      s.non_ascii = true;
      return char_node(s);
    }
    if (c == '\\') {
      ++i_;
      CharSet s;
      GEMMAD_ASSIGN_OR_RETURN(s, escape(false));
      return char_node(s);
    }
    if (c == '*' || c == '+' || c == '?' || c == '{')
      return error("a quantifier with nothing to repeat");
    return char_node(literal());
  }

  // One character as written: ASCII, or a whole UTF-8 sequence.
  CharSet literal() {
    CharSet s;
    const auto b = static_cast<unsigned char>(p_[i_]);
    if (b < 0x80) {
      s.ascii.set(b);
      ++i_;
      return s;
    }
    size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    len = std::min(len, p_.size() - i_);
    s.utf8 = std::string(p_.substr(i_, len));
    i_ += len;
    return s;
  }

  Result<NodePtr> char_class() {
    ++i_;  // '['
    bool negate = false;
    if (peek('^')) {
      negate = true;
      ++i_;
    }
    CharSet s;
    bool first = true;
    while (i_ < p_.size() && (p_[i_] != ']' || first)) {
      first = false;
      int lo = 0;
      if (p_[i_] == '\\') {
        ++i_;
        CharSet e;
        GEMMAD_ASSIGN_OR_RETURN(e, escape(true));
        if (e.ascii.count() != 1) {
          s.ascii |= e.ascii;
          continue;
        }
        for (int x = 0; x < 128; ++x) {
          if (e.ascii.test(static_cast<size_t>(x))) lo = x;
        }
      } else {
        if (static_cast<unsigned char>(p_[i_]) >= 0x80)
          return error("a non-ASCII character inside a class is not supported");
        lo = p_[i_++];
      }
      int hi = lo;
      if (peek('-') && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;
        if (p_[i_] == '\\') {
          ++i_;
          CharSet e;
          GEMMAD_ASSIGN_OR_RETURN(e, escape(true));
          if (e.ascii.count() != 1) return error("a range ending in a class escape");
          for (int x = 0; x < 128; ++x) {
            if (e.ascii.test(static_cast<size_t>(x))) hi = x;
          }
        } else {
          if (static_cast<unsigned char>(p_[i_]) >= 0x80)
            return error("a non-ASCII character inside a class is not supported");
          hi = p_[i_++];
        }
        if (hi < lo) return error("a class range out of order");
      }
      for (int x = lo; x <= hi; ++x)
        s.ascii.set(static_cast<size_t>(x));
    }
    if (!peek(']')) return error("'[' without a closing ']'");
    ++i_;
    if (negate) {
      s.ascii.flip();
      s.non_ascii = true;
    }
    return char_node(s);
  }

  std::string_view p_;
  size_t i_ = 0;
};

class Emitter {
 public:
  explicit Emitter(ValueRules& v) : v_(v), b_(v.builder()) {}

  // One encoded character of the set, as the string's text must spell it.
  uint32_t char_rule(const CharSet& s) {
    std::vector<Seq> alts;
    if (!s.utf8.empty()) {
      alts.push_back(b_.lit(s.utf8));
      return b_.rule(alts);
    }
    const bool gemma = v_.dialect() == Dialect::kGemmaArgs;
    SymbolSet raw;
    for (int c = 0; c < 128; ++c) {
      if (!s.ascii.test(static_cast<size_t>(c))) continue;
      if (gemma) {
        // Raw text between <|"|> delimiters; control characters other than \n and \t are
        // not written.
        if (c >= 0x20 || c == '\n' || c == '\t') raw.set(static_cast<size_t>(c));
        continue;
      }
      if (c == '"' || c == '\\') {
        alts.push_back(b_.lit(std::string("\\") + static_cast<char>(c)));
      } else if (c < 0x20) {
        alts.push_back(b_.lit(json_escape(c)));
      } else {
        raw.set(static_cast<size_t>(c));
      }
    }
    if (raw.any()) alts.push_back({b_.set(raw)});
    if (s.non_ascii) alts.push_back({b_.ref(v_.utf8_multi())});
    return b_.rule(alts);
  }

  Seq emit(const Node& n) {
    switch (n.kind) {
      case Node::kChar:
        return {b_.ref(char_rule(n.chars))};
      case Node::kSeq: {
        Seq out;
        for (const auto& k : n.kids)
          GrammarBuilder::append(out, emit(*k));
        return out;
      }
      case Node::kAlt: {
        if (n.kids.size() == 1) return emit(*n.kids[0]);
        std::vector<Seq> alts;
        for (const auto& k : n.kids)
          alts.push_back(emit(*k));
        return {b_.ref(b_.rule(alts))};
      }
      case Node::kRepeat:
        return {b_.ref(v_.repeat(emit(*n.kids[0]), {}, n.min, n.max))};
    }
    return {};
  }

  // Any run of characters (an unanchored side).
  uint32_t any_run() {
    CharSet all;
    all.ascii.set();
    all.non_ascii = true;
    return v_.repeat({b_.ref(char_rule(all))}, {}, 0, std::nullopt);
  }

 private:
  static std::string json_escape(int c) {
    switch (c) {
      case '\n':
        return "\\n";
      case '\t':
        return "\\t";
      case '\r':
        return "\\r";
      case '\b':
        return "\\b";
      case '\f':
        return "\\f";
      default: {
        static const char* hex = "0123456789abcdef";
        return std::string("\\u00") + hex[c >> 4] + hex[c & 15];
      }
    }
  }

  ValueRules& v_;
  GrammarBuilder& b_;
};

}  // namespace

Result<uint32_t> compile_pattern(ValueRules& v, std::string_view pattern) {
  Parser p(pattern);
  std::vector<std::pair<bool, bool>> anchors;
  NodePtr top;
  GEMMAD_ASSIGN_OR_RETURN(top, p.alternation(true, &anchors));
  if (!p.done()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "pattern: an unmatched ')' at offset " + std::to_string(p.pos()));
  }
  Emitter e(v);
  GrammarBuilder& b = v.builder();
  std::vector<Seq> alts;
  std::optional<uint32_t> run;
  for (size_t i = 0; i < top->kids.size(); ++i) {
    Seq s;
    if (!anchors[i].first) {
      if (!run) run = e.any_run();
      s.push_back(b.ref(*run));
    }
    GrammarBuilder::append(s, e.emit(*top->kids[i]));
    if (!anchors[i].second) {
      if (!run) run = e.any_run();
      s.push_back(b.ref(*run));
    }
    alts.push_back(s);
  }
  Seq whole = v.quote();
  whole.push_back(b.ref(b.rule(alts)));
  GrammarBuilder::append(whole, v.quote());
  return b.rule({whole});
}

}  // namespace gemmad::constrain
