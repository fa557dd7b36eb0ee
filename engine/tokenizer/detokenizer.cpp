// Streaming detokenizer: holds back incomplete UTF-8 characters between tokens.
#include "tokenizer/detokenizer.h"

#include "tokenizer/utf8.h"

namespace gemmad::tokenizer {

Status Detokenizer::push(TokenId id, std::string& out) {
  if (!tokenizer_->is_valid_id(id)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(tokenizer_->vocab_size()) + ")");
  }
  const std::string_view piece = tokenizer_->piece(id, options_);
  if (piece.empty()) return {};
  std::string_view text = piece;
  std::string joined;
  if (!pending_.empty()) {
    joined = pending_;
    joined.append(piece);
    text = joined;
  }
  const size_t ready = utf8::complete_prefix(text);
  utf8::append_sanitized(text.substr(0, ready), out);
  pending_.assign(text.substr(ready));
  return {};
}

void Detokenizer::finish(std::string& out) {
  if (!pending_.empty()) utf8::append_sanitized(pending_, out);
  pending_.clear();
}

}  // namespace gemmad::tokenizer
