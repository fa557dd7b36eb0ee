// Tokenizer construction (vocabulary tables, merge table, special-token trie), special-token
// matching, encoding entry points and decoding (docs/GEMMA4.md §5.1-5.3).
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <limits>

#include "tokenizer/bpe_scratch.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_view.h"

namespace gemmad::tokenizer {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581

Error bad_vocab(const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, what);
}

// "<0xAB>" -> 0xAB, else -1.
int parse_byte_token(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = s[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

// Start of the UTF-8 character that ends just before `pos` (pos > 0).
size_t prev_char_start(std::string_view s, size_t pos) {
  size_t p = pos - 1;
  for (int k = 0; k < 3 && p > 0 && (static_cast<uint8_t>(s[p]) & 0xC0) == 0x80; ++k)
    --p;
  return p;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::GgufFile& file) {
  auto view = read_vocab_view(file);
  if (!view.ok()) return std::move(view).error().with_context(file.path());
  auto tok = build(*view);
  if (!tok.ok()) return std::move(tok).error().with_context(file.path());
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  GEMMAD_ASSIGN_OR_RETURN(const std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(path));
  return from_gguf(*file);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_data(const VocabData& data) {
  if (data.model != kModelGemma4) {
    return make_error(ErrorCode::kUnsupported, std::string(kKeyModel) + " is '" + data.model +
                                                   "'; this tokenizer implements only '" +
                                                   kModelGemma4 + "'");
  }
  return build(view_of(data));
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::build(const VocabView& view) {
  const size_t n = view.tokens.size();
  if (n == 0 || n > kMaxVocabSize) {
    return bad_vocab(std::string(kKeyTokens) + " has " + std::to_string(n) +
                     " entries; expected 1.." + std::to_string(kMaxVocabSize));
  }
  if (view.types.size() != n) {
    return bad_vocab(std::string(kKeyTokenType) + " has " + std::to_string(view.types.size()) +
                     " entries but " + kKeyTokens + " has " + std::to_string(n));
  }
  for (const auto& [key, id] : {std::pair{kKeyBos, view.bos_id}, std::pair{kKeyEos, view.eos_id},
                                std::pair{kKeyUnk, view.unk_id}, std::pair{kKeyPad, view.pad_id},
                                std::pair{kKeyMask, view.mask_id}}) {
    if (id < -1 || id >= static_cast<TokenId>(n)) {
      return bad_vocab(std::string(key) + " = " + std::to_string(id) +
                       " is outside the vocabulary [0, " + std::to_string(n) + ")");
    }
  }
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  tok->types_ = view.types;
  tok->bos_id_ = view.bos_id;
  tok->eos_id_ = view.eos_id;
  tok->unk_id_ = view.unk_id;
  tok->pad_id_ = view.pad_id;
  tok->add_bos_ = view.add_bos;
  tok->chat_template_ = std::string(view.chat_template);

  // Token strings and decoded pieces, each in one arena (u32 offsets).
  size_t total = 0;
  for (const std::string_view t : view.tokens)
    total += t.size();
  if (total > std::numeric_limits<uint32_t>::max() / 2) {
    return bad_vocab(std::string(kKeyTokens) + " holds " + std::to_string(total) +
                     " bytes of text; limit 2 GiB");
  }
  tok->arena_.reserve(total);
  tok->offsets_.reserve(n + 1);
  tok->piece_arena_.reserve(total);
  tok->piece_offsets_.reserve(n + 1);
  tok->offsets_.push_back(0);
  tok->piece_offsets_.push_back(0);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view t = view.tokens[i];
    tok->arena_.append(t);
    tok->offsets_.push_back(static_cast<uint32_t>(tok->arena_.size()));
    // docs/TOKENIZER.md "Decoding": U+2581 -> space, byte tokens -> the raw byte.
    const int byte = tok->types_[i] == TokenType::kByte ? parse_byte_token(t) : -1;
    if (byte >= 0) {
      tok->piece_arena_.push_back(static_cast<char>(byte));
    } else {
      for (size_t p = 0; p < t.size();) {
        if (t.substr(p, 3) == kSpaceMark) {
          tok->piece_arena_.push_back(' ');
          p += 3;
        } else {
          tok->piece_arena_.push_back(t[p]);
          ++p;
        }
      }
    }
    tok->piece_offsets_.push_back(static_cast<uint32_t>(tok->piece_arena_.size()));
  }
  tok->index_.reset(&tok->arena_, &tok->offsets_, n);
  for (size_t i = 0; i < n; ++i)
    tok->index_.insert(static_cast<uint32_t>(i));

  // Byte fallback ids, and single-character tokens as BPE's initial symbols.
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    const TokenId id = tok->find_token(name);
    tok->byte_ids_[b] = id >= 0 ? id : tok->unk_id_;
  }
  for (TokenId& id : tok->ascii_ids_)
    id = -1;
  tok->char_ids_.reserve(1024);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view t = tok->token_text(static_cast<TokenId>(i));
    if (t.empty()) continue;
    const utf8::Char c = utf8::next_char(t, 0);
    if (c.cp == utf8::kInvalid || c.len != t.size()) continue;
    if (c.cp < 128) {
      if (tok->ascii_ids_[c.cp] < 0) tok->ascii_ids_[c.cp] = static_cast<TokenId>(i);
    } else {
      tok->char_ids_.insert(c.cp, i);
    }
  }
  tok->space_id_ = tok->find_token(kSpaceMark);

  GEMMAD_TRY(tok->build_merges(view));
  tok->build_special_trie();
  tok->build_word_split_rule();
  return tok;
}

Status Tokenizer::build_merges(const VocabView& view) {
  merges_.reserve(view.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < view.merges.size(); ++rank) {
    const std::string_view m = view.merges[rank];
    // docs/GEMMA4.md §5.2: "left right", split at the first space after position 0.
    const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
    const auto fail = [&](const std::string& what) {
      std::string shown(m.substr(0, 64));
      return bad_vocab(std::string(kKeyMerges) + "[" + std::to_string(rank) + "] = '" + shown +
                       "': " + what);
    };
    if (sp == std::string_view::npos) return fail("no space separating the two tokens");
    const std::string_view left = m.substr(0, sp);
    const std::string_view right = m.substr(sp + 1);
    const TokenId l = find_token(left);
    if (l < 0) return fail("left token '" + std::string(left) + "' is not in the vocabulary");
    const TokenId r = find_token(right);
    if (r < 0) return fail("right token '" + std::string(right) + "' is not in the vocabulary");
    joined.assign(left);
    joined.append(right);
    const TokenId merged = find_token(joined);
    if (merged < 0) return fail("merged token '" + joined + "' is not in the vocabulary");
    // A repeated pair keeps its first (lowest) rank.
    merges_.insert(static_cast<uint64_t>(l) << 32 | static_cast<uint32_t>(r),
                   static_cast<uint64_t>(rank) << 32 | static_cast<uint32_t>(merged));
  }
  return {};
}

void Tokenizer::build_special_trie() {
  trie_token_.assign(1, -1);
  trie_edges_.reserve(4096);
  for (size_t i = 0; i < types_.size(); ++i) {
    const TokenType t = types_[i];
    if (t != TokenType::kControl && t != TokenType::kUserDefined && t != TokenType::kUnknown) {
      continue;
    }
    const std::string_view s = token_text(static_cast<TokenId>(i));
    if (s.empty()) continue;
    uint64_t node = 0;
    for (const char c : s) {
      const uint64_t key = node << 8 | static_cast<uint8_t>(c);
      const uint64_t* child = trie_edges_.find(key);
      if (child != nullptr) {
        node = *child;
      } else {
        const uint64_t fresh = trie_token_.size();
        trie_token_.push_back(-1);
        trie_edges_.insert(key, fresh);
        node = fresh;
      }
    }
    if (trie_token_[node] < 0) trie_token_[node] = static_cast<TokenId>(i);
    trie_first_byte_[static_cast<uint8_t>(s[0])] = true;
  }
}

void Tokenizer::build_word_split_rule() {
  // A fragment can be cut before a U+2581 at position p when no token that BPE can form
  // contains the character before p followed by U+2581, because then no merge ever joins the
  // two sides. Collect every character that some token has right before a U+2581 (other than
  // U+2581 itself); Gemma's vocabulary has one ('>' in ">▁</"). If there were many, the rule
  // would not pay off: encode whole fragments (in windows) instead.
  constexpr size_t kMaxExceptions = 256;
  no_split_before_space_.reserve(16);
  for (size_t i = 0; i < types_.size(); ++i) {
    const TokenType t = types_[i];
    if (t == TokenType::kControl || t == TokenType::kByte) continue;
    const std::string_view s = token_text(static_cast<TokenId>(i));
    for (size_t p = s.find(kSpaceMark, 1); p != std::string_view::npos;
         p = s.find(kSpaceMark, p + 1)) {
      const size_t q = prev_char_start(s, p);
      const utf8::Char c = utf8::next_char(s, q);
      if (c.cp == 0x2581) continue;
      // A token text that is not UTF-8 (a hostile file): be conservative, no word split.
      if (c.cp == utf8::kInvalid) {
        word_split_ = false;
        return;
      }
      no_split_before_space_.insert(c.cp, 1);
      if (no_split_before_space_.size() > kMaxExceptions) {
        word_split_ = false;
        return;
      }
    }
  }
  word_split_ = true;
}

std::string_view Tokenizer::token_text(TokenId id) const {
  const auto i = static_cast<size_t>(id);
  return std::string_view(arena_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
}

TokenId Tokenizer::find_token(std::string_view text) const {
  const uint32_t id = index_.find(text);
  return id == detail::StringIndex::kEmpty ? -1 : static_cast<TokenId>(id);
}

Tokenizer::SpecialMatch Tokenizer::match_special(std::string_view text, size_t pos,
                                                 bool parse_special) const {
  SpecialMatch best;
  uint64_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const uint64_t* child = trie_edges_.find(node << 8 | static_cast<uint8_t>(text[i]));
    if (child == nullptr) break;
    node = *child;
    const TokenId id = trie_token_[node];
    if (id < 0) continue;
    // docs/TOKENIZER.md: user-defined tokens always, control ones only when allowed.
    if (types_[static_cast<size_t>(id)] == TokenType::kUserDefined || parse_special) {
      best = {id, i - pos + 1};
    }
  }
  return best;
}

void Tokenizer::encode_append(std::string_view text, bool parse_special,
                              std::vector<TokenId>& out) const {
  Scratch scratch;
  size_t fragment = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (trie_first_byte_[static_cast<uint8_t>(text[pos])]) {
      const SpecialMatch m = match_special(text, pos, parse_special);
      if (m.id >= 0) {
        encode_fragment(text.substr(fragment, pos - fragment), scratch, out);
        out.push_back(m.id);
        pos += m.len;
        fragment = pos;
        continue;
      }
    }
    ++pos;
  }
  encode_fragment(text.substr(fragment), scratch, out);
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  encode_append(text, options.parse_special, out);
  return out;
}

std::string_view Tokenizer::piece(TokenId id, const DecodeOptions& options) const {
  const auto i = static_cast<size_t>(id);
  switch (types_[i]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
      if (!options.render_special) return {};
      break;
    case TokenType::kUnused:
      return {};
    case TokenType::kUndefined:
    case TokenType::kNormal:
    case TokenType::kUserDefined:
    case TokenType::kByte:
      break;
  }
  return std::string_view(piece_arena_)
      .substr(piece_offsets_[i], piece_offsets_[i + 1] - piece_offsets_[i]);
}

Result<std::string> Tokenizer::decode(std::span<const TokenId> ids,
                                      const DecodeOptions& options) const {
  std::string raw;
  for (size_t k = 0; k < ids.size(); ++k) {
    if (!is_valid_id(ids[k])) {
      return make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(ids[k]) +
                                                         " (position " + std::to_string(k) +
                                                         ") is outside the vocabulary [0, " +
                                                         std::to_string(vocab_size()) + ")");
    }
    raw.append(piece(ids[k], options));
  }
  if (utf8::is_valid(raw)) return raw;
  std::string out;
  out.reserve(raw.size() + 16);
  utf8::append_sanitized(raw, out);
  return out;
}

}  // namespace gemmad::tokenizer
