// The BPE encoder of one text fragment (docs/GEMMA4.md §5.1, docs/TOKENIZER.md "The
// algorithm"): spaces -> U+2581, characters -> initial symbols, merges applied by rank (the
// leftmost pair first among equal ranks), symbols without a token -> <0xXX> byte tokens.
#include <algorithm>
#include <string_view>

#include "tokenizer/bpe_scratch.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gemmad::tokenizer {
namespace {

// Words longer than this many characters (no split point, e.g. 10 MB of one letter) are
// encoded in windows: BPE runs on kWindow characters, the tokens that end before the last
// kMargin characters are kept, and the next window starts after them. This keeps the cost
// linear in the text length and the memory bounded. The result differs from whole-word BPE
// only if a merge decision depended on characters more than kMargin away, which no real
// vocabulary does (Gemma's longest tokens have 31 characters).
constexpr size_t kWindow = 2048;
constexpr size_t kMargin = 256;

constexpr uint32_t kCpSpace = 0x2581;  // U+2581, what a space is normalised to

using Symbol = Tokenizer::Scratch::Symbol;
using Candidate = Tokenizer::Scratch::Candidate;

// std::push_heap keeps the "largest" on top; ordering by "comes after" puts the smallest
// rank, then the leftmost pair, on top.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.left > b.left;
  }
};

}  // namespace

bool Tokenizer::Scratch::WordCache::lookup(std::string_view word, uint64_t hash,
                                           std::vector<TokenId>& out) const {
  if (slots_.empty()) return false;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.n_ids == 0) return false;
    if (s.hash == hash && s.key_len == word.size() &&
        std::string_view(keys_).substr(s.key_offset, s.key_len) == word) {
      out.insert(out.end(), ids_.begin() + s.ids_offset, ids_.begin() + s.ids_offset + s.n_ids);
      return true;
    }
  }
}

void Tokenizer::Scratch::WordCache::insert(std::string_view word, uint64_t hash,
                                           std::span<const TokenId> ids) {
  if (word.size() > kMaxWordBytes || ids.empty() || ids.size() > 0xFFFF || size_ >= kMaxEntries) {
    return;
  }
  if ((size_ + 1) * 2 > slots_.size()) {
    // Grow (starting small: most encode calls are short chat messages).
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 256 : old.size() * 2, Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.n_ids == 0) continue;
      size_t i = s.hash & mask;
      while (slots_[i].n_ids != 0)
        i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].n_ids != 0)
    i = (i + 1) & mask;
  slots_[i] = Slot{hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
                   static_cast<uint16_t>(word.size()), static_cast<uint16_t>(ids.size())};
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++size_;
}

void Tokenizer::emit_symbol(std::string_view text, TokenId id, uint32_t start, uint32_t len,
                            std::vector<TokenId>& out) const {
  if (id >= 0) {
    out.push_back(id);
    return;
  }
  // Byte fallback of the normalised character: a space is U+2581 by now.
  std::string_view bytes = text.substr(start, len);
  if (bytes == " ") bytes = "\xE2\x96\x81";
  for (const char c : bytes) {
    const TokenId b = byte_ids_[static_cast<uint8_t>(c)];
    if (b >= 0) out.push_back(b);
  }
}

size_t Tokenizer::bpe_word(std::string_view word, Scratch& scratch, size_t commit_symbols,
                           std::vector<TokenId>& out) const {
  std::vector<Symbol>& syms = scratch.symbols;
  const size_t n = syms.size();
  if (n == 0) return 0;
  if (n == 1) {
    emit_symbol(word, syms[0].id, syms[0].start, syms[0].len, out);
    return syms[0].start + syms[0].len;
  }
  std::vector<Candidate>& heap = scratch.heap;
  heap.clear();
  // Appends the merge of symbols left and right, if there is one; returns whether it did.
  const auto add_pair = [&](int32_t left, int32_t right) {
    const TokenId l = syms[static_cast<size_t>(left)].id;
    const TokenId r = syms[static_cast<size_t>(right)].id;
    if (l < 0 || r < 0) return false;
    const uint64_t* m = merges_.find(static_cast<uint64_t>(l) << 32 | static_cast<uint32_t>(r));
    if (m == nullptr) return false;
    heap.push_back({static_cast<uint32_t>(*m >> 32), left, right, l, r,
                    static_cast<TokenId>(*m & 0xFFFFFFFFu)});
    return true;
  };
  const auto try_pair = [&](int32_t left, int32_t right) {
    if (add_pair(left, right)) std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
  };
  for (size_t i = 0; i + 1 < n; ++i)
    add_pair(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  std::make_heap(heap.begin(), heap.end(), CandidateAfter{});

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), CandidateAfter{});
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = syms[static_cast<size_t>(c.left)];
    if (left.len == 0 || left.next != c.right || left.id != c.left_id) continue;
    Symbol& right = syms[static_cast<size_t>(c.right)];
    if (right.id != c.right_id) continue;
    // Merge right into left.
    left.id = c.merged;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = c.left;
    if (left.prev >= 0) try_pair(left.prev, c.left);
    if (left.next >= 0) try_pair(c.left, left.next);
  }

  // Symbol 0 is always alive (a merge keeps the left symbol), so the list starts there.
  const size_t limit_byte = commit_symbols < n ? syms[commit_symbols].start : word.size();
  size_t end = 0;
  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const Symbol& s = syms[static_cast<size_t>(i)];
    if (s.start + s.len > limit_byte && end > 0) break;
    emit_symbol(word, s.id, s.start, s.len, out);
    end = s.start + s.len;
  }
  return end;
}

void Tokenizer::encode_fragment(std::string_view text, Scratch& scratch,
                                std::vector<TokenId>& out) const {
  std::vector<Symbol>& syms = scratch.symbols;
  syms.clear();
  size_t word_begin = 0;  // byte offset of the current word in `text`
  bool prev_space = false;
  uint32_t prev_cp = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto b = static_cast<uint8_t>(text[pos]);
    TokenId id;
    uint32_t len;
    uint32_t cp;
    if (b < 0x80) {
      cp = b == ' ' ? kCpSpace : b;
      id = b == ' ' ? space_id_ : ascii_ids_[b];
      len = 1;
    } else {
      const utf8::Char c = utf8::next_char(text, pos);
      cp = c.cp;
      len = c.len;
      id = -1;
      if (cp == kCpSpace) {
        id = space_id_;
      } else if (cp != utf8::kInvalid) {
        const uint64_t* v = char_ids_.find(cp);
        if (v != nullptr) id = static_cast<TokenId>(*v);
      }
    }
    const bool is_space = cp == kCpSpace;
    // Word split before a space that follows a non-space which no token joins to a following
    // space (build_word_split_rule): no merge can cross this point, so BPE per word equals
    // BPE over the whole fragment, and words are short.
    if (word_split_ && is_space && !syms.empty() && !prev_space &&
        no_split_before_space_.find(prev_cp) == nullptr) {
      encode_word(text.substr(word_begin, pos - word_begin), scratch, out);
      word_begin = pos;
    }
    const auto start = static_cast<uint32_t>(pos - word_begin);
    const auto index = static_cast<int32_t>(syms.size());
    syms.push_back({id, start, len, index - 1, index + 1});
    prev_space = is_space;
    prev_cp = cp;
    pos += len;
    if (syms.size() >= kWindow) {
      syms.back().next = -1;
      const size_t done =
          bpe_word(text.substr(word_begin, pos - word_begin), scratch, kWindow - kMargin, out);
      word_begin += done;
      pos = word_begin;
      syms.clear();
    }
  }
  if (!syms.empty()) encode_word(text.substr(word_begin, pos - word_begin), scratch, out);
}

void Tokenizer::encode_word(std::string_view word, Scratch& scratch,
                            std::vector<TokenId>& out) const {
  std::vector<Symbol>& syms = scratch.symbols;
  syms.back().next = -1;
  const bool cacheable = word.size() <= Scratch::WordCache::kMaxWordBytes && syms.size() > 1;
  const uint64_t hash = cacheable ? detail::hash_bytes(word) : 0;
  if (!cacheable || !scratch.cache.lookup(word, hash, out)) {
    const size_t before = out.size();
    bpe_word(word, scratch, syms.size(), out);
    if (cacheable) {
      scratch.cache.insert(word, hash, std::span<const TokenId>(out).subspan(before));
    }
  }
  syms.clear();
}

}  // namespace gemmad::tokenizer
