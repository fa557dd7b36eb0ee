// Open-addressing hash tables for the tokenizer's hot lookups (merge pairs, code points,
// token strings, special-token trie edges). Internal to engine/tokenizer.
//
// Why not std::unordered_map: one node allocation per entry makes loading 515k merges slow
// and lookups cache-hostile; these tables are two flat arrays with linear probing.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gemmad::tokenizer::detail {

// splitmix64 finaliser: spreads (left id, right id) pairs and code points over the table.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

// FNV-1a over the bytes, then mixed; good enough for token strings.
inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  return mix64(h);
}

// Table size for n entries at load factor <= 1/2.
inline size_t table_size_for(size_t n) {
  return std::bit_ceil(n * 2 + 16);
}

// uint64 key -> uint64 value. Key kEmpty is reserved. Key and value sit side by side so a
// lookup touches one cache line.
class U64Map {
 public:
  static constexpr uint64_t kEmpty = ~0ull;

  void reserve(size_t n) {
    slots_.assign(table_size_for(n), Slot{kEmpty, 0});
    mask_ = slots_.size() - 1;
    size_ = 0;
  }
  // Inserts if absent; returns false (and keeps the old value) if the key exists.
  bool insert(uint64_t key, uint64_t value) {
    if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) grow();
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == key) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, value};
    ++size_;
    return true;
  }
  const uint64_t* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != kEmpty) {
      if (slots_[i].key == key) return &slots_[i].value;
      i = (i + 1) & mask_;
    }
    return nullptr;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key;
    uint64_t value;
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    reserve(old.empty() ? 16 : old.size());
    for (const Slot& s : old) {
      if (s.key != kEmpty) insert(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Token string -> token id over an arena of concatenated token strings: token i is
// arena[offsets[i], offsets[i+1]). The table stores ids only. The arena and offsets must
// outlive the index and not change after the first insert.
class StringIndex {
 public:
  static constexpr uint32_t kEmpty = ~0u;

  void reset(const std::string* arena, const std::vector<uint32_t>* offsets, size_t n) {
    arena_ = arena;
    offsets_ = offsets;
    slots_.assign(table_size_for(n), kEmpty);
    mask_ = slots_.size() - 1;
  }
  // Inserts id unless its string is present already (the first id wins).
  bool insert(uint32_t id) {
    const std::string_view s = text(id);
    size_t i = hash_bytes(s) & mask_;
    while (slots_[i] != kEmpty) {
      if (text(slots_[i]) == s) return false;
      i = (i + 1) & mask_;
    }
    slots_[i] = id;
    return true;
  }
  // Returns the id or kEmpty.
  uint32_t find(std::string_view s) const {
    if (slots_.empty()) return kEmpty;
    size_t i = hash_bytes(s) & mask_;
    while (slots_[i] != kEmpty) {
      if (text(slots_[i]) == s) return slots_[i];
      i = (i + 1) & mask_;
    }
    return kEmpty;
  }

 private:
  std::string_view text(uint32_t id) const {
    const uint32_t b = (*offsets_)[id];
    return std::string_view(*arena_).substr(b, (*offsets_)[id + 1] - b);
  }

  const std::string* arena_ = nullptr;
  const std::vector<uint32_t>* offsets_ = nullptr;
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
};

}  // namespace gemmad::tokenizer::detail
