// The Gemma 4 chat format for E2B/E4B (docs/GEMMA4.md §5.4): turns `<|turn>ROLE\n` + trimmed
// content + `<turn|>\n`, an optional system block that starts with `<|think|>\n` when
// thinking is on and carries the tool declarations, previous model turns with their thought
// channels removed and their tool calls, tool results inside the model turn that called, and
// the generation prompt `<|turn>model\n` (or `<|channel>thought\n` after a tool result with
// thinking on).
//
// render_text() gives the exact string of the spec (for tests and display). ChatFormat::
// render_ids() gives the token ids the model sees: control tokens come only from the
// template; message text is tokenized with parse_special = false, so text such as "<|turn>"
// typed by a user can never become a control token.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::chat {

using tokenizer::TokenId;

enum class Role { kSystem, kUser, kModel, kTool };

// "system" / "developer" -> system, "user", "model" / "assistant" -> model, "tool"
// (docs/GEMMA4.md §5.4).
Result<Role> parse_role(std::string_view name);
std::string_view role_name(Role role);  // as written after <|turn>: system, user, model, tool

// A call the model made: the function's name and its arguments as a JSON object text.
struct ToolCall {
  std::string name;
  std::string arguments_json;
};

// A function the model may call: parameters is a JSON Schema text ("" = none).
struct ToolDeclaration {
  std::string name;
  std::string description;
  std::string parameters_json;
};

// An image or audio part of a user message, at a byte offset of its content (docs/ENCODERS.md
// §2.6, §3): rendered as the template writes a media part (`\n\n<|image|>\n\n`, `<|audio|>`);
// render_media_ids() reports where its soft tokens go instead of the placeholder.
struct MediaAnchor {
  enum class Kind { kImage, kAudio };
  Kind kind = Kind::kImage;
  uint32_t offset = 0;  // into content, before trimming; past the end = at the end
  uint32_t rows = 0;    // prompt rows it becomes (soft tokens + begin/end), for budgeting
};

struct Message {
  Role role = Role::kUser;
  std::string content;               // kTool: the result (a JSON object, or any text)
  std::vector<MediaAnchor> media;    // kUser: in offset order
  std::vector<ToolCall> tool_calls;  // kModel: calls after the content
  std::string tool_name;             // kTool: the function whose result this is
};

struct ChatOptions {
  bool thinking = false;                   // <|think|> at the top of the system block
  bool add_generation_prompt = true;       // end with <|turn>model\n
  bool add_bos = true;                     // start with <bos> (docs/TOKENIZER.md: every prompt)
  std::span<const ToolDeclaration> tools;  // declared in the system block
};

// Checks what rendering relies on: names are [A-Za-z0-9_.-]{1,64}, parameters a JSON object,
// calls' arguments JSON objects, a tool message has a name and follows a model message with
// calls or another tool message. Errors name the field ("tools[1].name", "messages[3]...").
Status validate_tools(std::span<const ToolDeclaration> tools);
Status validate_messages(std::span<const Message> messages);

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
  // The same ids with each user message's media left out, and where each went: media_at[k]
  // is the index in ids before which the k-th media part (in message order) is placed. The
  // text on either side of a part is tokenized apart, as a control token would split it.
  struct MediaIds {
    std::vector<TokenId> ids;
    std::vector<size_t> media_at;
  };
  MediaIds render_media_ids(std::span<const Message> messages,
                            const ChatOptions& options = {}) const;

  TokenId turn_start_id() const { return turn_start_; }
  TokenId turn_end_id() const { return turn_end_; }
  // Ids of the tool and channel tokens (docs/GEMMA4.md §5.3); -1 if the vocabulary lacks one.
  struct ToolIds {
    TokenId tool = -1, tool_end = -1, call = -1, call_end = -1, response = -1, response_end = -1,
            string_delim = -1, channel = -1, channel_end = -1;
  };
  const ToolIds& tool_ids() const { return tool_ids_; }
  bool has_tool_tokens() const;

 private:
  explicit ChatFormat(const tokenizer::Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  const tokenizer::Tokenizer* tokenizer_;
  TokenId bos_ = -1;
  TokenId turn_start_ = -1;  // <|turn>
  TokenId turn_end_ = -1;    // <turn|>
  TokenId think_ = -1;       // <|think|>
  ToolIds tool_ids_;
};

}  // namespace gemmad::chat
