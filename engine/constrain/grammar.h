// The grammar a Matcher runs (docs/CONSTRAINED.md "Algorithm"): rules of alternatives, each a
// sequence of elements (a symbol set, a rule reference, or the end of the alternative), over
// symbols = bytes 0..255 plus special-token symbols. No left recursion (the schema compiler
// never makes any and rejects schemas that would).
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gemmad::constrain {

// Symbols beyond the 256 bytes: special tokens a grammar may require.
inline constexpr uint16_t kSymQuote = 256;  // <|"|>, the Gemma 4 string delimiter
inline constexpr size_t kNumSymbols = 257;
inline constexpr std::string_view kQuoteTokenText = "<|\"|>";

using SymbolSet = std::bitset<kNumSymbols>;

struct Elem {
  enum Kind : uint8_t { kEnd, kSet, kRule };
  Kind kind = kEnd;
  uint32_t arg = 0;  // set index (kSet) or rule id (kRule)
};

class Grammar {
 public:
  // elems_[0] = {kRule, root}, elems_[1] = {kEnd}: the start of every match.
  std::vector<Elem> elems_;
  std::vector<std::vector<uint32_t>> rules_;  // rule id -> start positions of its alternatives
  std::vector<SymbolSet> sets_;
};

// Builds a Grammar; rules may be declared before their alternatives are added (recursion).
class GrammarBuilder {
 public:
  using Seq = std::vector<Elem>;
  GrammarBuilder();

  uint32_t new_rule();
  void add_alt(uint32_t rule, const Seq& seq);
  uint32_t rule(const std::vector<Seq>& alts);  // new rule with these alternatives

  Elem set(const SymbolSet& s);
  Elem sym(uint16_t symbol);
  Elem ref(uint32_t rule) const { return Elem{Elem::kRule, rule}; }
  Seq lit(std::string_view bytes);  // one element per byte
  static void append(Seq& a, const Seq& b) { a.insert(a.end(), b.begin(), b.end()); }

  size_t size() const { return elems_.size(); }
  // Moves the rules into a Grammar rooted at `root`.
  Grammar finish(uint32_t root);

 private:
  std::vector<Elem> elems_;
  std::vector<std::vector<Seq>> alts_;
  std::vector<SymbolSet> sets_;
};

SymbolSet range_set(unsigned lo, unsigned hi);  // bytes lo..hi inclusive

}  // namespace gemmad::constrain
