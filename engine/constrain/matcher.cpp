// The per-sequence matcher: a set of parse stacks over the grammar, interned into numbered
// states with a lazily filled transition table, and a mask computed by one pruned walk of the
// token trie (docs/CONSTRAINED.md "Algorithm").
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "constrain/constrain.h"
#include "constrain/grammar.h"
#include "constrain/token_index.h"

namespace gemmad::constrain {
namespace {

using Stack = std::vector<uint32_t>;  // element positions; back() is the next element

// Guards against grammars whose expansion does not terminate or explodes (the compiler
// rejects left recursion; these bound what slips through, e.g. from a fuzzer).
constexpr size_t kMaxStackDepth = 2048;
constexpr size_t kMaxExpansions = size_t{1} << 16;
// Bounds on the per-sequence caches (the transition table is kNumSymbols ints per state).
constexpr size_t kMaxStates = 4096;
constexpr size_t kMaxMasks = 64;

constexpr int32_t kUnknown = -1;
constexpr int32_t kDead = -2;

}  // namespace

struct Matcher::Impl {
  struct State {
    std::vector<Stack> stacks;  // sorted, distinct; an empty stack = a complete match
    bool complete = false;
  };

  std::shared_ptr<const Grammar> g;
  std::shared_ptr<const TokenIndex> idx;
  std::vector<State> states;
  std::unordered_map<std::string, int32_t> ids;
  std::vector<int32_t> trans;  // states.size() * kNumSymbols
  int32_t cur = 0;
  std::unordered_map<int32_t, std::vector<uint32_t>> masks;
  std::vector<Stack> work, out;
  std::vector<int32_t> walk;

  void close(Stack s, std::vector<Stack>& result) {
    size_t budget = 0;
    work.clear();
    work.push_back(std::move(s));
    while (!work.empty()) {
      Stack t = std::move(work.back());
      work.pop_back();
      while (true) {
        if (t.empty()) {
          result.push_back(std::move(t));
          break;
        }
        const Elem e = g->elems_[t.back()];
        if (e.kind == Elem::kEnd) {
          t.pop_back();
          if (!t.empty()) ++t.back();
          continue;
        }
        if (e.kind == Elem::kSet) {
          result.push_back(std::move(t));
          break;
        }
        if (t.size() >= kMaxStackDepth || ++budget > kMaxExpansions) break;  // dropped
        // A reference that ends its alternative returns straight to the parent (a tail
        // call): right-recursive loops (repetitions, strings) keep the stack flat, so the
        // state inside a long string repeats and its mask is cached.
        const bool tail = g->elems_[t.back() + 1].kind == Elem::kEnd;
        if (tail) t.pop_back();
        for (const uint32_t alt : g->rules_[e.arg]) {
          Stack u = t;
          u.push_back(alt);
          work.push_back(std::move(u));
        }
        break;
      }
    }
  }

  int32_t intern(std::vector<Stack>& stacks) {
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    std::string key;
    for (const Stack& s : stacks) {
      const auto n = static_cast<uint32_t>(s.size());
      key.append(reinterpret_cast<const char*>(&n), sizeof n);
      key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
    }
    auto [it, inserted] = ids.try_emplace(std::move(key), static_cast<int32_t>(states.size()));
    if (inserted) {
      State st;
      st.complete = !stacks.empty() && stacks.front().empty();
      st.stacks = stacks;
      states.push_back(std::move(st));
      trans.resize(states.size() * kNumSymbols, kUnknown);
    }
    return it->second;
  }

  int32_t step(int32_t from, uint16_t sym) {
    int32_t& cached = trans[static_cast<size_t>(from) * kNumSymbols + sym];
    if (cached != kUnknown) return cached;
    out.clear();
    for (const Stack& s : states[static_cast<size_t>(from)].stacks) {
      if (s.empty()) continue;
      const Elem e = g->elems_[s.back()];
      if (!g->sets_[e.arg].test(sym)) continue;
      Stack t = s;
      ++t.back();
      close(std::move(t), out);
    }
    const int32_t to = out.empty() ? kDead : intern(out);
    trans[static_cast<size_t>(from) * kNumSymbols + sym] = to;  // `cached` may have moved
    return to;
  }

  void reset_caches_if_full() {
    if (states.size() < kMaxStates) return;
    std::vector<Stack> keep = states[static_cast<size_t>(cur)].stacks;
    states.clear();
    ids.clear();
    trans.clear();
    masks.clear();
    cur = intern(keep);
  }

  const std::vector<uint32_t>& mask() {
    reset_caches_if_full();
    if (auto it = masks.find(cur); it != masks.end()) return it->second;
    if (masks.size() >= kMaxMasks) masks.clear();
    std::vector<uint32_t>& bits = masks[cur];
    bits.assign((idx->vocab_size() + 31) / 32, 0);
    const auto& nodes = idx->nodes();
    const auto& toks = idx->node_tokens();
    walk.assign(static_cast<size_t>(idx->max_depth()) + 1, 0);
    walk[0] = cur;
    const size_t n = nodes.size();
    for (size_t i = 0; i < n;) {
      const TokenIndex::Node& node = nodes[i];
      const int32_t to = step(walk[node.depth - 1u], node.sym);
      if (to < 0) {
        i = node.end;
        continue;
      }
      walk[node.depth] = to;
      for (uint32_t k = node.tok_begin; k < node.tok_end; ++k) {
        const auto id = static_cast<uint32_t>(toks[k]);
        bits[id >> 5] |= 1u << (id & 31);
      }
      ++i;
    }
    return bits;
  }
};

Matcher::Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenIndex> index)
    : impl_(std::make_unique<Impl>()) {
  impl_->g = std::move(grammar);
  impl_->idx = std::move(index);
  std::vector<Stack> init;
  impl_->close(Stack{0}, init);
  impl_->cur = impl_->intern(init);
}

Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

void Matcher::allowed(std::vector<uint32_t>& bitmask) const {
  bitmask = impl_->mask();
}

bool Matcher::is_allowed(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->idx->vocab_size()) return false;
  const auto& bits = impl_->mask();
  const auto u = static_cast<uint32_t>(id);
  return (bits[u >> 5] >> (u & 31)) & 1u;
}

void Matcher::mask_logits(std::span<float> logits) const {
  const auto& bits = impl_->mask();
  const float ninf = -std::numeric_limits<float>::infinity();
  const size_t n = std::min(logits.size(), impl_->idx->vocab_size());
  for (size_t w = 0; w * 32 < n; ++w) {
    const uint32_t word = bits[w];
    if (word == 0xffffffffu) continue;
    const size_t end = std::min(n, w * 32 + 32);
    for (size_t i = w * 32; i < end; ++i) {
      if (!((word >> (i & 31)) & 1u)) logits[i] = ninf;
    }
  }
  for (size_t i = n; i < logits.size(); ++i)
    logits[i] = ninf;
}

Status Matcher::accept(TokenId id) {
  Impl& m = *impl_;
  m.reset_caches_if_full();
  const auto syms = m.idx->symbols(id);
  int32_t s = m.cur;
  for (size_t i = 0; i < syms.size() && s >= 0; ++i)
    s = m.step(s, syms[i]);
  if (syms.empty() || s < 0) {
    return make_error(ErrorCode::kInternal,
                      "constrain: token " + std::to_string(id) +
                          " is not allowed by the grammar here (sampled outside the mask)");
  }
  m.cur = s;
  return {};
}

bool Matcher::complete() const {
  return impl_->states[static_cast<size_t>(impl_->cur)].complete;
}

bool Matcher::must_end() const {
  const auto& st = impl_->states[static_cast<size_t>(impl_->cur)];
  return st.complete && st.stacks.size() == 1;
}

}  // namespace gemmad::constrain
