// Gemma 4 E2B/E4B chat template, no-tools subset (docs/GEMMA4.md §5.4).
#include "chat/chat_format.h"

namespace gemmad::chat {
namespace {

constexpr std::string_view kBos = "<bos>";
constexpr std::string_view kTurnStart = "<|turn>";
constexpr std::string_view kTurnEnd = "<turn|>";
constexpr std::string_view kThink = "<|think|>";
constexpr std::string_view kChannelStart = "<|channel>";
constexpr std::string_view kChannelEnd = "<channel|>";

enum class Special { kBos, kTurnStart, kTurnEnd, kThink };

// The template as a sequence of pieces, so the string and the id renderings cannot drift
// apart: `special` emits a control token, `text` emits message or template text.
template <typename Sink>
void render(std::span<const Message> messages, const ChatOptions& options, Sink& sink) {
  if (options.add_bos) sink.special(Special::kBos);
  size_t first = 0;
  // docs/GEMMA4.md §5.4: the system block appears for a leading system message or when thinking is
  // on.
  const bool leading_system = !messages.empty() && messages[0].role == Role::kSystem;
  if (leading_system || options.thinking) {
    sink.special(Special::kTurnStart);
    sink.text("system\n");
    if (options.thinking) {
      sink.special(Special::kThink);
      sink.text("\n");
    }
    if (leading_system) {
      sink.text(trim(messages[0].content));
      first = 1;
    }
    sink.special(Special::kTurnEnd);
    sink.text("\n");
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const Message& m = messages[i];
    sink.special(Special::kTurnStart);
    sink.text(role_name(m.role));
    sink.text("\n");
    if (m.role == Role::kModel) {
      sink.text(strip_thoughts(m.content));
    } else {
      sink.text(trim(m.content));
    }
    sink.special(Special::kTurnEnd);
    sink.text("\n");
  }
  if (options.add_generation_prompt) {
    // E2B/E4B: no pre-seeded empty thought block, in both thinking modes (docs/GEMMA4.md §5.4).
    sink.special(Special::kTurnStart);
    sink.text("model\n");
  }
}

struct TextSink {
  std::string out;
  void special(Special s) {
    switch (s) {
      case Special::kBos:
        out.append(kBos);
        return;
      case Special::kTurnStart:
        out.append(kTurnStart);
        return;
      case Special::kTurnEnd:
        out.append(kTurnEnd);
        return;
      case Special::kThink:
        out.append(kThink);
        return;
    }
  }
  void text(std::string_view t) { out.append(t); }
};

// Text between two control tokens is gathered and tokenized as one fragment, exactly as the
// tokenizer would split the rendered string at its special tokens.
struct IdSink {
  const tokenizer::Tokenizer& tok;
  TokenId bos, turn_start, turn_end, think;
  std::vector<TokenId> out;
  std::string pending;

  void flush() {
    if (pending.empty()) return;
    tok.encode_append(pending, /*parse_special=*/false, out);
    pending.clear();
  }
  void special(Special s) {
    flush();
    switch (s) {
      case Special::kBos:
        out.push_back(bos);
        return;
      case Special::kTurnStart:
        out.push_back(turn_start);
        return;
      case Special::kTurnEnd:
        out.push_back(turn_end);
        return;
      case Special::kThink:
        out.push_back(think);
        return;
    }
  }
  void text(std::string_view t) { pending.append(t); }
};

}  // namespace

Result<Role> parse_role(std::string_view name) {
  if (name == "system" || name == "developer") return Role::kSystem;
  if (name == "user") return Role::kUser;
  if (name == "model" || name == "assistant") return Role::kModel;
  return make_error(
      ErrorCode::kInvalidArgument,
      "role '" + std::string(name) + "' is not one of system, developer, user, model, assistant");
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kModel:
      return "model";
  }
  return "user";
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const size_t b = text.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  const size_t e = text.find_last_not_of(kSpace);
  return text.substr(b, e - b + 1);
}

std::string strip_thoughts(std::string_view model_text) {
  std::string out;
  size_t pos = 0;
  while (pos < model_text.size()) {
    const size_t start = model_text.find(kChannelStart, pos);
    if (start == std::string_view::npos) {
      out.append(model_text.substr(pos));
      break;
    }
    out.append(model_text.substr(pos, start - pos));
    const size_t end = model_text.find(kChannelEnd, start + kChannelStart.size());
    if (end == std::string_view::npos) break;  // an unclosed thought runs to the end
    pos = end + kChannelEnd.size();
  }
  return std::string(trim(out));
}

std::string render_text(std::span<const Message> messages, const ChatOptions& options) {
  TextSink sink;
  render(messages, options, sink);
  return std::move(sink.out);
}

Result<ChatFormat> ChatFormat::create(const tokenizer::Tokenizer& tokenizer) {
  ChatFormat f(tokenizer);
  const auto need = [&](std::string_view text, TokenId* id) -> Status {
    *id = tokenizer.find_token(text);
    if (*id < 0) {
      return make_error(ErrorCode::kBadModelFile,
                        "the vocabulary has no token '" + std::string(text) +
                            "' needed by the Gemma 4 chat format (docs/GEMMA4.md §5.3)");
    }
    return {};
  };
  GEMMAD_TRY(need(kTurnStart, &f.turn_start_));
  GEMMAD_TRY(need(kTurnEnd, &f.turn_end_));
  GEMMAD_TRY(need(kThink, &f.think_));
  f.bos_ = tokenizer.bos_id();
  if (f.bos_ < 0) GEMMAD_TRY(need(kBos, &f.bos_));
  return f;
}

std::vector<TokenId> ChatFormat::render_ids(std::span<const Message> messages,
                                            const ChatOptions& options) const {
  IdSink sink{*tokenizer_, bos_, turn_start_, turn_end_, think_, {}, {}};
  render(messages, options, sink);
  sink.flush();
  return std::move(sink.out);
}

}  // namespace gemmad::chat
