// Grammar building; see grammar.h.
#include "constrain/grammar.h"

namespace gemmad::constrain {

GrammarBuilder::GrammarBuilder() = default;

uint32_t GrammarBuilder::new_rule() {
  alts_.emplace_back();
  return static_cast<uint32_t>(alts_.size() - 1);
}

void GrammarBuilder::add_alt(uint32_t rule, const Seq& seq) {
  alts_[rule].push_back(seq);
}

uint32_t GrammarBuilder::rule(const std::vector<Seq>& alts) {
  const uint32_t r = new_rule();
  alts_[r] = alts;
  return r;
}

Elem GrammarBuilder::set(const SymbolSet& s) {
  for (size_t i = 0; i < sets_.size(); ++i) {
    if (sets_[i] == s) return Elem{Elem::kSet, static_cast<uint32_t>(i)};
  }
  sets_.push_back(s);
  return Elem{Elem::kSet, static_cast<uint32_t>(sets_.size() - 1)};
}

Elem GrammarBuilder::sym(uint16_t symbol) {
  SymbolSet s;
  s.set(symbol);
  return set(s);
}

GrammarBuilder::Seq GrammarBuilder::lit(std::string_view bytes) {
  Seq out;
  for (const char c : bytes)
    out.push_back(sym(static_cast<uint8_t>(c)));
  return out;
}

Grammar GrammarBuilder::finish(uint32_t root) {
  Grammar g;
  g.elems_ = {Elem{Elem::kRule, root}, Elem{Elem::kEnd, 0}};
  g.rules_.resize(alts_.size());
  for (size_t r = 0; r < alts_.size(); ++r) {
    for (const Seq& seq : alts_[r]) {
      g.rules_[r].push_back(static_cast<uint32_t>(g.elems_.size()));
      g.elems_.insert(g.elems_.end(), seq.begin(), seq.end());
      g.elems_.push_back(Elem{Elem::kEnd, 0});
    }
  }
  g.sets_ = std::move(sets_);
  alts_.clear();
  return g;
}

SymbolSet range_set(unsigned lo, unsigned hi) {
  SymbolSet s;
  for (unsigned c = lo; c <= hi; ++c)
    s.set(c);
  return s;
}

}  // namespace gemmad::constrain
