// Gemma 4 E2B/E4B chat template with tools and thinking (docs/GEMMA4.md §5.4).
#include "chat/chat_format.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <nlohmann/json.hpp>

#include "chat/tool_syntax.h"

namespace gemmad::chat {
namespace {

constexpr std::string_view kChannelStart = "<|channel>";
constexpr std::string_view kChannelEnd = "<channel|>";

enum class Special {
  kBos,
  kTurnStart,
  kTurnEnd,
  kThink,
  kTool,
  kToolEnd,
  kCall,
  kCallEnd,
  kResponse,
  kResponseEnd,
  kStringDelim,
  kChannel,
  kChannelEnd,
  kCount
};

// The text of each control token, indexed by Special (docs/GEMMA4.md §5.3).
constexpr std::string_view kSpecialText[] = {
    "<bos>",      "<|turn>",      "<turn|>",      "<|think|>",        "<|tool>",
    "<tool|>",    "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>",
    kStringDelim, kChannelStart,  kChannelEnd};
static_assert(std::size(kSpecialText) == static_cast<size_t>(Special::kCount));

// Writes a JSON value in the tool syntax through a render sink.
template <typename Sink>
struct ValueAdapter : ValueSink {
  Sink& sink;
  explicit ValueAdapter(Sink& s) : sink(s) {}
  void text(std::string_view t) override { sink.text(t); }
  void string_delim() override { sink.special(Special::kStringDelim); }
};

// Parses a JSON text known to be valid (validate_*); anything else renders as a string.
nlohmann::json json_or_string(const std::string& text) {
  nlohmann::json v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return nlohmann::json(std::string(trim(text)));
  return v;
}

template <typename Sink>
void write_value(const nlohmann::json& v, Sink& sink, bool upper_types = false) {
  ValueAdapter<Sink> a(sink);
  write_gemma_value(v, a, upper_types);
}

// `<|tool>declaration:NAME{description:<|"|>...<|"|>,parameters:{...}}<tool|>`
template <typename Sink>
void render_declaration(const ToolDeclaration& t, Sink& sink) {
  sink.special(Special::kTool);
  sink.text("declaration:");
  sink.text(t.name);
  sink.text("{description:");
  sink.special(Special::kStringDelim);
  sink.text(t.description);
  sink.special(Special::kStringDelim);
  if (!t.parameters_json.empty()) {
    sink.text(",parameters:");
    write_value(json_or_string(t.parameters_json), sink, /*upper_types=*/true);
  }
  sink.text("}");
  sink.special(Special::kToolEnd);
}

// A result: an object is written as is, anything else as {value:...}.
template <typename Sink>
void render_response(const Message& m, Sink& sink) {
  sink.special(Special::kResponse);
  sink.text("response:");
  sink.text(m.tool_name);
  nlohmann::json v = json_or_string(m.content);
  if (!v.is_object()) v = nlohmann::json{{"value", std::move(v)}};
  write_value(v, sink);
  sink.special(Special::kResponseEnd);
}

// A user message with media parts: the trimmed content cut at each part's offset (clamped to
// the trimmed text), an image as `\n\n<media>\n\n` and audio as `<media>` (docs/ENCODERS.md
// §2.6).
template <typename Sink>
void render_with_media(const Message& m, Sink& sink) {
  const std::string_view all(m.content);
  const std::string_view kept = trim(all);
  const size_t begin = static_cast<size_t>(kept.data() - all.data());
  const size_t end = begin + kept.size();
  size_t at = begin;
  for (const MediaAnchor& a : m.media) {
    const size_t cut = std::clamp<size_t>(a.offset, at, end);
    sink.text(all.substr(at, cut - at));
    at = cut;
    if (a.kind == MediaAnchor::Kind::kImage) sink.text("\n\n");
    sink.media(a.kind);
    if (a.kind == MediaAnchor::Kind::kImage) sink.text("\n\n");
  }
  sink.text(all.substr(at, end - at));
}

// The template as a sequence of pieces, so the string and the id renderings cannot drift
// apart: `special` emits a control token, `text` emits message or template text.
template <typename Sink>
void render(std::span<const Message> messages, const ChatOptions& options, Sink& sink) {
  if (options.add_bos) sink.special(Special::kBos);
  size_t first = 0;
  // docs/GEMMA4.md §5.4: the system block appears for a leading system message, tools, or
  // when thinking is on.
  const bool leading_system = !messages.empty() && messages[0].role == Role::kSystem;
  if (leading_system || options.thinking || !options.tools.empty()) {
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
    for (const ToolDeclaration& t : options.tools)
      render_declaration(t, sink);
    sink.special(Special::kTurnEnd);
    sink.text("\n");
  }
  bool open_model_turn = false;  // a model turn with calls stays open for their results
  for (size_t i = first; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == Role::kTool) {
      if (!open_model_turn) {
        sink.special(Special::kTurnStart);
        sink.text("model\n");
        open_model_turn = true;
      }
      render_response(m, sink);
      continue;
    }
    if (open_model_turn) {
      sink.special(Special::kTurnEnd);
      sink.text("\n");
      open_model_turn = false;
    }
    sink.special(Special::kTurnStart);
    sink.text(role_name(m.role));
    sink.text("\n");
    if (m.role == Role::kModel) {
      sink.text(strip_thoughts(m.content));
      for (const ToolCall& c : m.tool_calls) {
        sink.special(Special::kCall);
        sink.text("call:");
        sink.text(c.name);
        write_value(json_or_string(c.arguments_json), sink);
        sink.special(Special::kCallEnd);
      }
      if (!m.tool_calls.empty()) {
        open_model_turn = true;
        continue;
      }
    } else if (m.media.empty()) {
      sink.text(trim(m.content));
    } else {
      render_with_media(m, sink);
    }
    sink.special(Special::kTurnEnd);
    sink.text("\n");
  }
  const bool after_tool = !messages.empty() && messages.back().role == Role::kTool;
  if (options.add_generation_prompt && after_tool && options.thinking) {
    // E2B/E4B: after a tool result with thinking on, the model turn goes on with an open
    // thought channel instead of a new turn (docs/GEMMA4.md §5.4).
    sink.special(Special::kChannel);
    sink.text("thought\n");
    return;
  }
  if (open_model_turn) {
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
  void special(Special s) { out.append(kSpecialText[static_cast<size_t>(s)]); }
  void text(std::string_view t) { out.append(t); }
  // The template's own placeholder text for a media part.
  void media(MediaAnchor::Kind k) {
    out.append(k == MediaAnchor::Kind::kImage ? "<|image|>" : "<|audio|>");
  }
};

// Text between two control tokens is gathered and tokenized as one fragment, exactly as the
// tokenizer would split the rendered string at its special tokens.
struct IdSink {
  const tokenizer::Tokenizer& tok;
  const TokenId* ids;  // indexed by Special
  std::vector<TokenId> out;
  std::string pending;

  void flush() {
    if (pending.empty()) return;
    tok.encode_append(pending, /*parse_special=*/false, out);
    pending.clear();
  }
  void special(Special s) {
    flush();
    const TokenId id = ids[static_cast<size_t>(s)];
    if (id >= 0) {
      out.push_back(id);
    } else {
      // A vocabulary without the token (checked by has_tool_tokens() before tools are
      // used): its text, so nothing is silently dropped.
      pending.append(kSpecialText[static_cast<size_t>(s)]);
    }
  }
  void text(std::string_view t) { pending.append(t); }
  void media(MediaAnchor::Kind) {
    flush();
    media_at.push_back(out.size());
  }
  std::vector<size_t> media_at;
};

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

Error bad(const std::string& field, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, field + " " + why);
}

Status check_object(const std::string& field, const std::string& text) {
  const nlohmann::json v = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return bad(field, "is not valid JSON");
  if (!v.is_object()) return bad(field, "must be a JSON object, not " + std::string(v.type_name()));
  return {};
}

}  // namespace

Result<Role> parse_role(std::string_view name) {
  if (name == "system" || name == "developer") return Role::kSystem;
  if (name == "user") return Role::kUser;
  if (name == "model" || name == "assistant") return Role::kModel;
  if (name == "tool") return Role::kTool;
  return make_error(ErrorCode::kInvalidArgument,
                    "role '" + std::string(name) +
                        "' is not one of system, developer, user, model, assistant, tool");
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kModel:
      return "model";
    case Role::kTool:
      return "tool";
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
  const auto text = [](Special s) { return kSpecialText[static_cast<size_t>(s)]; };
  GEMMAD_TRY(need(text(Special::kTurnStart), &f.turn_start_));
  GEMMAD_TRY(need(text(Special::kTurnEnd), &f.turn_end_));
  GEMMAD_TRY(need(text(Special::kThink), &f.think_));
  f.bos_ = tokenizer.bos_id();
  if (f.bos_ < 0) GEMMAD_TRY(need(text(Special::kBos), &f.bos_));
  ToolIds& t = f.tool_ids_;
  const std::pair<Special, TokenId*> optional[] = {{Special::kTool, &t.tool},
                                                   {Special::kToolEnd, &t.tool_end},
                                                   {Special::kCall, &t.call},
                                                   {Special::kCallEnd, &t.call_end},
                                                   {Special::kResponse, &t.response},
                                                   {Special::kResponseEnd, &t.response_end},
                                                   {Special::kStringDelim, &t.string_delim},
                                                   {Special::kChannel, &t.channel},
                                                   {Special::kChannelEnd, &t.channel_end}};
  for (const auto& [s, id] : optional)
    *id = tokenizer.find_token(text(s));
  return f;
}

std::vector<TokenId> ChatFormat::render_ids(std::span<const Message> messages,
                                            const ChatOptions& options) const {
  const ToolIds& t = tool_ids_;
  const TokenId ids[] = {bos_,           turn_start_, turn_end_,    think_,     t.tool,
                         t.tool_end,     t.call,      t.call_end,   t.response, t.response_end,
                         t.string_delim, t.channel,   t.channel_end};
  static_assert(std::size(ids) == static_cast<size_t>(Special::kCount));
  IdSink sink{*tokenizer_, ids, {}, {}, {}};
  render(messages, options, sink);
  sink.flush();
  return std::move(sink.out);
}

ChatFormat::MediaIds ChatFormat::render_media_ids(std::span<const Message> messages,
                                                  const ChatOptions& options) const {
  const ToolIds& t = tool_ids_;
  const TokenId ids[] = {bos_,           turn_start_, turn_end_,    think_,     t.tool,
                         t.tool_end,     t.call,      t.call_end,   t.response, t.response_end,
                         t.string_delim, t.channel,   t.channel_end};
  IdSink sink{*tokenizer_, ids, {}, {}, {}};
  render(messages, options, sink);
  sink.flush();
  return MediaIds{std::move(sink.out), std::move(sink.media_at)};
}

}  // namespace gemmad::chat

namespace gemmad::chat {

bool ChatFormat::has_tool_tokens() const {
  const ToolIds& t = tool_ids_;
  for (TokenId id : {t.tool, t.tool_end, t.call, t.call_end, t.response, t.response_end,
                     t.string_delim, t.channel, t.channel_end}) {
    if (id < 0) return false;
  }
  return true;
}

Status validate_tools(std::span<const ToolDeclaration> tools) {
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string f = "tools[" + std::to_string(i) + "]";
    if (!valid_name(tools[i].name)) {
      return bad(f + ".name", "'" + tools[i].name.substr(0, 80) +
                                  "' must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
    }
    for (size_t j = 0; j < i; ++j) {
      if (tools[j].name == tools[i].name) {
        return bad(f + ".name", "'" + tools[i].name + "' is declared twice");
      }
    }
    if (!tools[i].parameters_json.empty()) {
      GEMMAD_TRY(check_object(f + ".parameters", tools[i].parameters_json));
    }
  }
  return {};
}

Status validate_messages(std::span<const Message> messages) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    const std::string f = "messages[" + std::to_string(i) + "]";
    for (size_t c = 0; c < m.tool_calls.size(); ++c) {
      const std::string cf = f + ".tool_calls[" + std::to_string(c) + "]";
      if (m.role != Role::kModel) return bad(cf, "is only allowed in a model message");
      if (!valid_name(m.tool_calls[c].name)) {
        return bad(cf + ".name", "'" + m.tool_calls[c].name.substr(0, 80) +
                                     "' must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
      }
      GEMMAD_TRY(check_object(cf + ".arguments", m.tool_calls[c].arguments_json));
    }
    if (m.role != Role::kTool) continue;
    if (!valid_name(m.tool_name)) {
      return bad(f + ".name", "'" + m.tool_name.substr(0, 80) +
                                  "' (the tool's name) must be 1 to 64 characters of A-Z a-z "
                                  "0-9 _ . -");
    }
    const bool after_call =
        i > 0 && (messages[i - 1].role == Role::kTool ||
                  (messages[i - 1].role == Role::kModel && !messages[i - 1].tool_calls.empty()));
    if (!after_call) {
      return bad(f,
                 "(role tool) must follow a model message with tool_calls or another tool "
                 "message");
    }
  }
  return {};
}

}  // namespace gemmad::chat
