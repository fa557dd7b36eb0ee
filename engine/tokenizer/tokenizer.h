// The Gemma 4 tokenizer (docs/TOKENIZER.md, docs/GEMMA4.md §5.1): SentencePiece-style BPE with
// byte fallback over a 262,144-entry vocabulary, loaded from GGUF keys.
//
// Encoding: special tokens are matched in the raw text first (user-defined ones always, control
// ones only with parse_special, longest match at the leftmost position, as Hugging Face's added
// tokens are); every other fragment has spaces replaced by U+2581 and is BPE-encoded, merges by
// rank, characters without a token falling back to <0xXX> byte tokens. Invalid UTF-8 and NUL
// bytes are encoded as byte tokens; encoding never fails.
// Thread safety: immutable after creation; all const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "tokenizer/flat_map.h"
#include "tokenizer/vocab.h"

namespace gemmad::tokenizer {

struct VocabView;

struct EncodeOptions {
  bool add_bos = false;        // prepend <bos> (docs/DESIGN.md: tokenize adds none unless asked)
  bool parse_special = false;  // match control tokens such as <|turn> in the text
};

struct DecodeOptions {
  bool render_special = true;  // control tokens decode to their text (else to nothing)
};

class Tokenizer {
 public:
  // From the tokenizer.ggml.* keys of a vocabulary-only or full model GGUF. The tokenizer
  // copies what it needs; `file` may be closed afterwards.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::GgufFile& file);
  // Opens `path` and reads its keys.
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& path);
  // From plain data (tests, fuzzing). Validates lengths, ids and merges.
  static Result<std::unique_ptr<Tokenizer>> from_data(const VocabData& data);

  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Appends to `out` (no BOS): lets callers build a sequence from several pieces.
  void encode_append(std::string_view text, bool parse_special, std::vector<TokenId>& out) const;

  // Decodes to well-formed UTF-8 (ill-formed byte sequences become U+FFFD). Errors name the
  // first id outside the vocabulary.
  Result<std::string> decode(std::span<const TokenId> ids, const DecodeOptions& options = {}) const;
  // The bytes one token contributes to the output: U+2581 -> space, <0xXX> -> that raw byte,
  // control tokens -> their text or nothing. May be part of a UTF-8 character.
  // Precondition: 0 <= id < vocab_size().
  std::string_view piece(TokenId id, const DecodeOptions& options = {}) const;

  size_t vocab_size() const { return types_.size(); }
  bool is_valid_id(TokenId id) const { return id >= 0 && static_cast<size_t>(id) < vocab_size(); }
  // The stored token text (with U+2581 for spaces). Precondition: is_valid_id(id).
  std::string_view token_text(TokenId id) const;
  TokenType token_type(TokenId id) const { return types_[static_cast<size_t>(id)]; }
  // The id whose stored text is exactly `text`, or -1.
  TokenId find_token(std::string_view text) const;
  size_t merge_count() const { return merges_.size(); }

  TokenId bos_id() const { return bos_id_; }
  TokenId eos_id() const { return eos_id_; }
  TokenId unk_id() const { return unk_id_; }
  TokenId pad_id() const { return pad_id_; }
  bool add_bos() const { return add_bos_; }
  const std::string& chat_template() const { return chat_template_; }

  struct Scratch;  // internal working memory of one encode call (bpe_scratch.h)

 private:
  Tokenizer() = default;
  static Result<std::unique_ptr<Tokenizer>> build(const VocabView& view);
  Status build_merges(const VocabView& view);
  void build_special_trie();
  void build_word_split_rule();

  struct SpecialMatch {
    TokenId id = -1;
    size_t len = 0;
  };
  SpecialMatch match_special(std::string_view text, size_t pos, bool parse_special) const;
  void encode_fragment(std::string_view text, Scratch& scratch, std::vector<TokenId>& out) const;
  void encode_word(std::string_view word, Scratch& scratch, std::vector<TokenId>& out) const;
  size_t bpe_word(std::string_view word, Scratch& scratch, size_t commit_symbols,
                  std::vector<TokenId>& out) const;
  void emit_symbol(std::string_view text, TokenId id, uint32_t start, uint32_t len,
                   std::vector<TokenId>& out) const;

  // Token strings: token i is arena_[offsets_[i], offsets_[i+1]).
  std::string arena_;
  std::vector<uint32_t> offsets_;
  // Decoded pieces (U+2581 -> space), same layout.
  std::string piece_arena_;
  std::vector<uint32_t> piece_offsets_;
  std::vector<TokenType> types_;
  detail::StringIndex index_;
  // (left id << 32 | right id) -> (rank << 32 | merged id).
  detail::U64Map merges_;
  // Single-character tokens: code point -> id (ASCII in a direct table).
  TokenId ascii_ids_[128] = {};
  detail::U64Map char_ids_;
  TokenId space_id_ = -1;  // the token "▁" that a space becomes
  TokenId byte_ids_[256] = {};
  // Special-token trie over raw bytes: (node << 8 | byte) -> child node; node -> token id.
  detail::U64Map trie_edges_;
  std::vector<TokenId> trie_token_;
  bool trie_first_byte_[256] = {};
  // Word split rule (see build_word_split_rule): a fragment may be cut before a U+2581 whose
  // preceding character is not U+2581 and not in `no_split_before_space_`.
  bool word_split_ = false;
  detail::U64Map no_split_before_space_;

  TokenId bos_id_ = -1;
  TokenId eos_id_ = -1;
  TokenId unk_id_ = -1;
  TokenId pad_id_ = -1;
  bool add_bos_ = true;
  std::string chat_template_;
};

}  // namespace gemmad::tokenizer
