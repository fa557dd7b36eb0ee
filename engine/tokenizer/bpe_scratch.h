// Internal: per-call working memory of the BPE encoder (one per encode call, reused across
// the words of that call), so the shared Tokenizer stays immutable and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace gemmad::tokenizer {

struct Tokenizer::Scratch {
  // One symbol of a word: a token id (or -1 for a character without a token) covering bytes
  // [start, start + len) of the word; a doubly linked list over the word's symbols.
  struct Symbol {
    TokenId id;
    uint32_t start;
    uint32_t len;  // 0 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  // A possible merge of symbol `left` with its right neighbour `right`, valid only while both
  // still hold the ids it was computed from (stale entries are skipped when popped).
  struct Candidate {
    uint32_t rank;
    int32_t left;
    int32_t right;
    TokenId left_id;
    TokenId right_id;
    TokenId merged;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;

  // Encodings of the words seen so far in this call: prose repeats its words, so most words
  // are looked up instead of merged. Bounded: words up to kMaxWordBytes, kMaxEntries entries.
  class WordCache {
   public:
    static constexpr size_t kMaxWordBytes = 48;
    static constexpr size_t kMaxEntries = size_t{1} << 15;

    // Appends the cached ids of `word` to `out` and returns true, or returns false.
    bool lookup(std::string_view word, uint64_t hash, std::vector<TokenId>& out) const;
    void insert(std::string_view word, uint64_t hash, std::span<const TokenId> ids);

   private:
    struct Slot {
      uint64_t hash = 0;
      uint32_t key_offset = 0;
      uint32_t ids_offset = 0;
      uint16_t key_len = 0;
      uint16_t n_ids = 0;  // 0 = empty slot (a word always has at least one token)
    };
    std::vector<Slot> slots_;
    std::string keys_;
    std::vector<TokenId> ids_;
    size_t size_ = 0;
  };
  WordCache cache;
};

}  // namespace gemmad::tokenizer
