// The vocabulary as symbol strings in a preorder trie (docs/CONSTRAINED.md "Token index"):
// each token is the bytes the detokenizer emits for it (byte-fallback tokens their byte, the
// SentencePiece space marker a space), or one special symbol (<|"|>), or it is never allowed
// (control tokens, the Gemma 4 markers "<|...>"/"<...|>", tokens that emit nothing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "constrain/constrain.h"

namespace gemmad::constrain {

class TokenIndex {
 public:
  struct Node {
    uint32_t end;        // index one past this node's subtree
    uint16_t sym;        // the symbol on the edge into this node
    uint16_t depth;      // 1 for children of the root
    uint32_t tok_begin;  // tokens whose string ends here: tokens_[tok_begin, tok_end)
    uint32_t tok_end;
  };

  size_t vocab_size() const { return vocab_size_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<TokenId>& node_tokens() const { return tokens_; }
  uint16_t max_depth() const { return max_depth_; }
  // The symbols of a token; empty when the token is never allowed.
  std::basic_string_view<uint16_t> symbols(TokenId id) const;

  // From (id, symbols) pairs; ids must be < vocab_size. Empty symbol strings are skipped.
  static std::shared_ptr<const TokenIndex> build(size_t vocab_size,
                                                 std::vector<std::basic_string<uint16_t>> syms);

 private:
  size_t vocab_size_ = 0;
  std::vector<Node> nodes_;  // preorder
  std::vector<TokenId> tokens_;
  std::vector<uint32_t> sym_offsets_;  // vocab_size_ + 1
  std::basic_string<uint16_t> sym_arena_;
  uint16_t max_depth_ = 0;
};

}  // namespace gemmad::constrain
