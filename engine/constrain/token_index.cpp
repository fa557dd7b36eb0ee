// Building the token trie; see token_index.h.
#include "constrain/token_index.h"

#include <algorithm>
#include <numeric>

#include "constrain/grammar.h"

namespace gemmad::constrain {
namespace {

using Symbols = std::basic_string<uint16_t>;

// The Gemma 4 markers the converter types user-defined so they print (<|tool_call>,
// <channel|>, ...): never part of a constrained value, except <|"|> which is a symbol.
bool is_marker(std::string_view text) {
  return text.size() >= 3 && (text.starts_with("<|") || text.ends_with("|>"));
}

}  // namespace

std::basic_string_view<uint16_t> TokenIndex::symbols(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_size_) return {};
  const size_t i = static_cast<size_t>(id);
  return std::basic_string_view<uint16_t>(sym_arena_)
      .substr(sym_offsets_[i], sym_offsets_[i + 1] - sym_offsets_[i]);
}

std::shared_ptr<const TokenIndex> TokenIndex::build(size_t vocab_size, std::vector<Symbols> syms) {
  auto idx = std::make_shared<TokenIndex>();
  idx->vocab_size_ = vocab_size;
  syms.resize(vocab_size);
  idx->sym_offsets_.resize(vocab_size + 1);
  for (size_t i = 0; i < vocab_size; ++i) {
    idx->sym_offsets_[i] = static_cast<uint32_t>(idx->sym_arena_.size());
    idx->sym_arena_ += syms[i];
  }
  idx->sym_offsets_[vocab_size] = static_cast<uint32_t>(idx->sym_arena_.size());

  std::vector<TokenId> order;
  for (size_t i = 0; i < vocab_size; ++i) {
    if (!syms[i].empty()) order.push_back(static_cast<TokenId>(i));
  }
  std::sort(order.begin(), order.end(), [&](TokenId a, TokenId b) {
    return syms[static_cast<size_t>(a)] < syms[static_cast<size_t>(b)];
  });
  // Sorted strings give the trie in preorder: each string adds the nodes past its common
  // prefix with the previous one; open[d] is the node at depth d+1 on the current path.
  std::vector<uint32_t> open;
  const Symbols* prev = nullptr;
  for (const TokenId id : order) {
    const Symbols& s = syms[static_cast<size_t>(id)];
    size_t lcp = 0;
    if (prev) {
      while (lcp < prev->size() && lcp < s.size() && (*prev)[lcp] == s[lcp])
        ++lcp;
    }
    while (open.size() > lcp) {
      idx->nodes_[open.back()].end = static_cast<uint32_t>(idx->nodes_.size());
      open.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      const auto tok_at = static_cast<uint32_t>(idx->tokens_.size());
      open.push_back(static_cast<uint32_t>(idx->nodes_.size()));
      idx->nodes_.push_back(Node{0, s[d], static_cast<uint16_t>(d + 1), tok_at, tok_at});
    }
    idx->max_depth_ = std::max(idx->max_depth_, static_cast<uint16_t>(s.size()));
    Node& last = idx->nodes_[open.back()];
    idx->tokens_.push_back(id);
    last.tok_end = static_cast<uint32_t>(idx->tokens_.size());
    prev = &s;
  }
  while (!open.empty()) {
    idx->nodes_[open.back()].end = static_cast<uint32_t>(idx->nodes_.size());
    open.pop_back();
  }
  return idx;
}

Result<std::shared_ptr<const TokenIndex>> build_token_index(const tokenizer::Tokenizer& tok) {
  using tokenizer::TokenType;
  const size_t n = tok.vocab_size();
  std::vector<Symbols> syms(n);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<TokenId>(i);
    const TokenType type = tok.token_type(id);
    const std::string_view text = tok.token_text(id);
    if (text == kQuoteTokenText &&
        (type == TokenType::kUserDefined || type == TokenType::kControl)) {
      syms[i] = Symbols(1, kSymQuote);
      continue;
    }
    if (type != TokenType::kNormal && type != TokenType::kByte && type != TokenType::kUserDefined)
      continue;
    if (type == TokenType::kUserDefined && is_marker(text)) continue;
    for (const char c : tok.piece(id))
      syms[i].push_back(static_cast<uint8_t>(c));
    if (syms[i].size() > 0xffff) {
      return make_error(ErrorCode::kInvalidArgument, "token " + std::to_string(i) + " is " +
                                                         std::to_string(syms[i].size()) +
                                                         " bytes; limit 65535");
    }
  }
  return TokenIndex::build(n, std::move(syms));
}

}  // namespace gemmad::constrain
