// The Gemma 4 chat format for E2B/E4B, no-tools subset (docs/GEMMA4.md §5.4): turns
// `<|turn>ROLE\n` + trimmed content + `<turn|>\n`, an optional system block that starts with
// `<|think|>\n` when thinking is on, previous model turns with their thought channels removed,
// and the generation prompt `<|turn>model\n`.
//
// render_text() gives the exact string of the spec (for tests and display). ChatFormat::
// render_ids() gives the token ids the model sees: control tokens come only from the
// template; message text is tokenized with parse_special = false, so text such as "<|turn>"
// typed by a user can never become a control token.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::chat {

using tokenizer::TokenId;

enum class Role { kSystem, kUser, kModel };

// "system" / "developer" -> system, "user", "model" / "assistant" -> model (docs/GEMMA4.md §5.4).
Result<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);  // as written after <|turn>: system, user, model

struct Message {
  Role role = Role::kUser;
  std::string content;
};

struct ChatOptions {
  bool thinking = false;              // <|think|> at the top of the system block
  bool add_generation_prompt = true;  // end with <|turn>model\n
  bool add_bos = true;                // start with <bos> (docs/TOKENIZER.md: every prompt)
};

// Removes every thought channel `<|channel>…<channel|>` (an unclosed one up to the end) and
// trims the rest, as previous model turns are re-rendered (docs/GEMMA4.md §5.4).
std::string strip_thoughts(std::string_view model_text);

// Removes leading and trailing whitespace (space, \t, \n, \r, \v, \f), like Jinja's trim.
std::string_view trim(std::string_view text);

// The prompt as a string, with the special tokens written out.
std::string render_text(std::span<const Message> messages, const ChatOptions& options = {});

class ChatFormat {
 public:
  // Looks up the template's control tokens; errors name a token the vocabulary lacks.
  // The tokenizer must outlive the ChatFormat.
  static Result<ChatFormat> create(const tokenizer::Tokenizer& tokenizer);

  std::vector<TokenId> render_ids(std::span<const Message> messages,
                                  const ChatOptions& options = {}) const;

  TokenId turn_start_id() const { return turn_start_; }
  TokenId turn_end_id() const { return turn_end_; }

 private:
  explicit ChatFormat(const tokenizer::Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  const tokenizer::Tokenizer* tokenizer_;
  TokenId bos_ = -1;
  TokenId turn_start_ = -1;  // <|turn>
  TokenId turn_end_ = -1;    // <turn|>
  TokenId think_ = -1;       // <|think|>
};

}  // namespace gemmad::chat
