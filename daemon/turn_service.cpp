// The turn service: validate -> model -> session -> prompt -> schedule -> stream -> commit
// -> done, for every front-end; see turn_service.h and turn_service_impl.h.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "chat/tool_call_parser.h"
#include "chat/turn_policy.h"
#include "constrain/constrain.h"
#include "daemon/media/image_decoder.h"
#include "daemon/session_resume.h"
#include "daemon/turn_prompt.h"
#include "daemon/turn_service_impl.h"

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using tokenizer::TokenId;

Error invalid(std::string m) {
  return make_error(ErrorCode::kInvalidArgument, std::move(m));
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

TurnStop to_turn_stop(StopReason r) {
  switch (r) {
    case StopReason::kEos:
      return TurnStop::kEos;
    case StopReason::kStopToken:
      return TurnStop::kStopToken;
    case StopReason::kStopString:
      return TurnStop::kStopString;
    case StopReason::kMaxTokens:
      return TurnStop::kMaxTokens;
    case StopReason::kContextFull:
      return TurnStop::kContextFull;
    case StopReason::kCancelled:
      return TurnStop::kCancelled;
    case StopReason::kShutdown:
      return TurnStop::kShutdown;
    case StopReason::kNone:
    case StopReason::kError:
      return TurnStop::kError;
  }
  return TurnStop::kError;
}

TurnMessageStatus message_status_of(TurnStop s) {
  switch (s) {
    case TurnStop::kMaxTokens:
    case TurnStop::kContextFull:
      return TurnMessageStatus::kTruncated;
    case TurnStop::kCancelled:
    case TurnStop::kShutdown:
    case TurnStop::kError:
      return TurnMessageStatus::kInterrupted;
    default:
      return TurnMessageStatus::kComplete;
  }
}

store::MessageStatus to_store(TurnMessageStatus s) {
  switch (s) {
    case TurnMessageStatus::kComplete:
      return store::MessageStatus::kComplete;
    case TurnMessageStatus::kTruncated:
      return store::MessageStatus::kTruncated;
    case TurnMessageStatus::kInterrupted:
      return store::MessageStatus::kInterrupted;
  }
  return store::MessageStatus::kInterrupted;
}

Error too_large(const std::string& field, size_t bytes, uint32_t limit) {
  return make_error(ErrorCode::kOutOfRange, field + " of " + std::to_string(bytes) +
                                                " bytes exceeds store.max_message_bytes " +
                                                std::to_string(limit));
}

std::string derive_title(const std::string& text) {
  std::string t;
  for (char c : text) {
    if (t.size() >= 60) break;
    t += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  // Do not cut a UTF-8 character in half.
  while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80)
    t.pop_back();
  if (!t.empty() && (static_cast<unsigned char>(t.back()) & 0x80)) t.pop_back();
  return t;
}

// The session's options document: {"thinking":bool,"model":"name"}.
std::string options_json(bool thinking, const std::string& model) {
  std::string escaped;
  for (char c : model) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
  }
  return std::string("{\"thinking\":") + (thinking ? "true" : "false") + ",\"model\":\"" + escaped +
         "\"}";
}

// The model a stored session belongs to ("" for sessions from before several models).
std::string session_model(const std::string& options) {
  const std::string key = "\"model\":\"";
  const size_t at = options.find(key);
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + key.size(); i < options.size(); ++i) {
    if (options[i] == '\\' && i + 1 < options.size()) {
      out += options[++i];
    } else if (options[i] == '"') {
      return out;
    } else {
      out += options[i];
    }
  }
  return "";
}

Result<sampler::SamplingParams> sampling_of(const GenerationParams& p) {
  sampler::SamplingParams s;  // Gemma 4's recommended defaults where unset
  s.temperature = p.temperature.value_or(1.0f);
  s.top_k = p.top_k.value_or(64);
  s.top_p = p.top_p.value_or(0.95f);
  s.min_p = p.min_p.value_or(0.0f);
  s.repetition_penalty = p.repeat_penalty.value_or(1.0f);
  s.seed = p.seed ? *p.seed : static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  GEMMAD_TRY(sampler::validate(s));
  return s;
}

Result<generate::Limits> limits_of(const GenerationParams& p, uint32_t n_ctx) {
  generate::Limits l;
  if (p.max_tokens) {
    if (*p.max_tokens < 1 || *p.max_tokens > n_ctx) {
      return make_error(ErrorCode::kInvalidArgument,
                        "max_tokens " + std::to_string(*p.max_tokens) + " is outside [1, " +
                            std::to_string(n_ctx) + "] (the model's context)");
    }
    l.max_tokens = static_cast<int32_t>(*p.max_tokens);
  }
  l.ignore_eos = p.ignore_eos;
  l.stop_strings = p.stop;
  GEMMAD_TRY(generate::validate(l));
  return l;
}

// Streams a job to its TurnStream (inference thread), split into channels, and posts the
// end to the io thread.
class ServiceSink : public JobSink {
 public:
  ServiceSink(boost::asio::io_context& io, std::shared_ptr<TurnStream> stream, bool in_thought,
              std::function<void(JobResult)> done)
      : io_(io), stream_(std::move(stream)), splitter_(in_thought), done_(std::move(done)) {}
  bool on_token(int32_t id, const std::string& text) override {
    pieces_.clear();
    splitter_.push(text, pieces_);
    return deliver(id);
  }
  bool writable() override { return stream_->writable(); }
  void on_finish(JobResult result) override {
    pieces_.clear();
    splitter_.finish(pieces_);
    deliver(-1);
    boost::asio::post(io_, [d = done_, r = std::move(result)]() mutable { d(std::move(r)); });
  }

 private:
  // Every token reaches the stream, with empty text while the splitter holds text back.
  bool deliver(int32_t id) {
    if (pieces_.empty()) return stream_->on_channel_text(id, "", splitter_.channel());
    bool more = true;
    for (const chat::ChannelText& p : pieces_)
      more = stream_->on_channel_text(id, p.text, p.channel) && more;
    return more;
  }

  boost::asio::io_context& io_;
  std::shared_ptr<TurnStream> stream_;
  chat::StreamSplitter splitter_;
  std::vector<chat::ChannelText> pieces_;
  std::function<void(JobResult)> done_;
};

// The constrained-decoding engine's matcher as the policy's grammar.
class MatcherConstraint : public chat::Constraint {
 public:
  MatcherConstraint(std::shared_ptr<const constrain::Grammar> g,
                    std::shared_ptr<const constrain::TokenIndex> index)
      : m_(std::move(g), std::move(index)) {}
  void mask(std::span<float> logits) const override { m_.mask_logits(logits); }
  Status accept(TokenId id) override { return m_.accept(id); }
  bool complete() const override { return m_.complete(); }
  bool must_end() const override { return m_.must_end(); }

 private:
  constrain::Matcher m_;
};

chat::ConstraintFactory factory_of(std::shared_ptr<const constrain::Grammar> g,
                                   std::shared_ptr<const constrain::TokenIndex> index) {
  return [g = std::move(g), index = std::move(index)] {
    return std::make_unique<MatcherConstraint>(g, index);
  };
}

// "[{"id","name","arguments"}]" as the store keeps a model message's calls.
std::string calls_json(const std::vector<ToolCallOut>& calls) {
  nlohmann::json a = nlohmann::json::array();
  for (const ToolCallOut& c : calls)
    a.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments_json}});
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<chat::ToolCall> calls_from_json(const std::string& text) {
  std::vector<chat::ToolCall> out;
  const nlohmann::json a = nlohmann::json::parse(text, nullptr, false);
  if (!a.is_array()) return out;
  for (const auto& c : a) {
    if (!c.is_object()) continue;
    out.push_back({c.value("name", ""), c.value("arguments", "{}")});
  }
  return out;
}

std::vector<ToolCallOut> call_outs_from_json(const std::string& text) {
  std::vector<ToolCallOut> out;
  const nlohmann::json a = nlohmann::json::parse(text, nullptr, false);
  if (!a.is_array()) return out;
  for (const auto& c : a) {
    if (!c.is_object()) continue;
    out.push_back({c.value("id", ""), c.value("name", ""), c.value("arguments", "{}")});
  }
  return out;
}

// A call id unique enough for a client to match results to calls: "call_" + 24 hex digits.
std::string new_call_id() {
  static std::atomic<uint64_t> counter{0};
  const uint64_t t = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  const uint64_t n = counter.fetch_add(1) + 1;
  char buf[32];
  std::snprintf(buf, sizeof buf, "call_%016llx%08llx", static_cast<unsigned long long>(t),
                static_cast<unsigned long long>(n & 0xffffffffu));
  return buf;
}

// Checks the tool, format and thinking fields against each other and the model.
Status validate_features(const TurnRequest& req, const LoadedModel& model) {
  GEMMAD_TRY(chat::validate_tools(req.tools));
  const bool uses_tokens = !req.tools.empty() || req.thinking ||
                           req.kind == TurnKind::kStatelessChat || !req.chat.tool_results.empty();
  if (uses_tokens && !req.tools.empty() && !model.chat->has_tool_tokens()) {
    return invalid("tools: model '" + model.name +
                   "' has no tool tokens (<|tool_call>, <|\"|>, ...) in its vocabulary");
  }
  if (req.thinking && !model.chat->has_tool_tokens()) {
    return invalid("thinking: model '" + model.name +
                   "' has no <|channel> / <channel|> tokens in its vocabulary");
  }
  if (req.thinking_budget && !req.thinking) {
    return invalid("thinking_budget " + std::to_string(*req.thinking_budget) +
                   " needs thinking on");
  }
  const ToolChoice& tc = req.tool_choice;
  if ((tc.mode == ToolChoice::Mode::kRequired || tc.mode == ToolChoice::Mode::kFunction) &&
      req.tools.empty()) {
    return invalid("tool_choice requires a call but no tools are declared");
  }
  if (tc.mode == ToolChoice::Mode::kFunction) {
    bool found = false;
    for (const auto& t : req.tools)
      found = found || t.name == tc.function;
    if (!found) {
      return invalid("tool_choice names function '" + tc.function + "', which is not in tools");
    }
  }
  if (req.kind == TurnKind::kCompletion && req.completion.raw && !req.tools.empty()) {
    return invalid("tools: a raw completion has no chat template to declare them in");
  }
  return {};
}

// The reply's token policy, or null when the request uses none of tools, thinking or a
// response format (then it samples exactly as before).
Result<std::shared_ptr<generate::TokenPolicy>> policy_for(const TurnRequest& req,
                                                          const LoadedModel& model,
                                                          bool in_thought) {
  const bool tools_on = !req.tools.empty() && req.tool_choice.mode != ToolChoice::Mode::kNone;
  const bool json = req.response_format.type != ResponseFormat::Type::kText;
  const bool thinking = req.thinking && req.kind != TurnKind::kCompletion;
  if (!tools_on && !json && !thinking) return std::shared_ptr<generate::TokenPolicy>();
  chat::PolicyOptions o;
  o.thinking = thinking;
  o.in_thought = in_thought;
  o.thinking_budget = req.thinking_budget;
  std::shared_ptr<const constrain::TokenIndex> index;
  if (tools_on || json) {
    index = model.token_index();
    if (!index) {
      return make_error(ErrorCode::kBadModelFile,
                        "model '" + model.name + "': no token index for constrained decoding");
    }
  }
  if (tools_on) {
    o.tools = req.tool_choice.mode == ToolChoice::Mode::kAuto ? chat::ToolMode::kAuto
                                                              : chat::ToolMode::kRequired;
    std::vector<constrain::ToolSpec> specs;
    for (const auto& t : req.tools)
      specs.push_back({t.name, t.parameters_json});
    std::optional<std::string> only;
    if (req.tool_choice.mode == ToolChoice::Mode::kFunction) only = req.tool_choice.function;
    auto g = constrain::compile_tool_call(specs, only);
    if (!g.ok()) return std::move(g).error().with_context("tools");
    o.call_grammar = factory_of(*g, index);
  }
  if (req.response_format.type == ResponseFormat::Type::kJsonObject) {
    o.answer_grammar = factory_of(constrain::any_json_value(constrain::Dialect::kJson), index);
  } else if (req.response_format.type == ResponseFormat::Type::kJsonSchema) {
    if (req.response_format.schema_json.empty()) {
      return invalid("response_format.json_schema.schema is empty");
    }
    auto g =
        constrain::compile_json_schema(req.response_format.schema_json, constrain::Dialect::kJson);
    if (!g.ok()) return std::move(g).error().with_context("response_format.json_schema");
    o.answer_grammar = factory_of(*g, index);
  }
  std::vector<TokenId> header =
      model.tok->encode("thought\n", {.add_bos = false, .parse_special = false});
  return std::shared_ptr<generate::TokenPolicy>(
      std::make_shared<chat::TurnPolicy>(*model.chat, std::move(header), std::move(o)));
}

}  // namespace

const char* turn_stop_name(TurnStop s) {
  switch (s) {
    case TurnStop::kEos:
      return "eos";
    case TurnStop::kStopToken:
      return "stop_token";
    case TurnStop::kStopString:
      return "stop_string";
    case TurnStop::kMaxTokens:
      return "max_tokens";
    case TurnStop::kContextFull:
      return "context_full";
    case TurnStop::kCancelled:
      return "cancelled";
    case TurnStop::kShutdown:
      return "shutdown";
    case TurnStop::kError:
      return "error";
    case TurnStop::kToolCalls:
      return "tool_calls";
    case TurnStop::kToolCallInvalid:
      return "tool_call_invalid";
  }
  return "unknown";
}

// What a request became before it is scheduled.
// A request's media part as the store keeps it: the MIME type from the bytes when the client
// gave none (admission checked that a given one agrees).
static store::NewMedia to_new_media(const MediaInput& m) {
  store::NewMedia n;
  n.data = m.data;
  n.text_offset = m.text_offset;
  n.token_budget = m.token_budget;
  if (m.kind == MediaInput::Kind::kAudio) {
    n.kind = store::MediaKind::kAudio;
    n.mime = "audio/wav";
  } else {
    n.kind = store::MediaKind::kImage;
    auto format = media::sniff_image(m.data);
    n.mime = format.ok() && *format == media::ImageFormat::kJpeg ? "image/jpeg" : "image/png";
  }
  return n;
}

struct TurnServiceImpl::Prepared {
  std::vector<int32_t> prompt;
  std::string cache_key;
  uint32_t turns_left_out = 0;
  bool store_turn = false;
  bool new_session = false;
  store::AppId app;
  std::string session_id;
  int64_t user_tokens = 0;
  std::vector<chat::Message> tool_results;  // stored ahead of the reply (stored chat)
  std::vector<int64_t> tool_result_tokens;
  bool in_thought = false;  // the prompt opened the thought channel (after a tool result)
  int64_t turns = 0;        // the stored session's turns before this one
  // Where the new user message's media go in `prompt` (before MediaPrompt::place).
  std::vector<size_t> media_at;
  // A prompt holding soft tokens: its ids alone do not say what its KV holds (every image's
  // placeholders are the same id), so its KV is neither reused nor remembered by ids.
  bool has_media = false;
  // The stored media of the kept history's user messages, in order (re-encoded: a restart or
  // a later turn prefills them again); the new turn's come after them in the prompt.
  std::vector<MediaPart> history_media;
};

struct TurnServiceImpl::Request {
  TurnHandle handle = 0;
  uint64_t job = 0;
  Caller caller;
  std::string model_name;
  std::shared_ptr<LoadedModel> model;
  std::shared_ptr<TurnStream> stream;
  std::optional<std::chrono::milliseconds> keep_alive;
  Prepared prep;
  std::string user_text;
  std::vector<MediaInput> user_media;  // stored with the user message (stored chat)
  bool thinking = false;
  bool uses_tools = false;  // tools declared or results sent: no session token reuse
  Clock::time_point arrived;
};

TurnServiceImpl::TurnServiceImpl(boost::asio::io_context& io, const Config& config,
                                 ModelRegistry& models, store::SessionStore& store,
                                 Scheduler& scheduler)
    : io_(io),
      config_(config),
      registry_(models),
      store_(store),
      scheduler_(scheduler),
      session_tokens_(std::max<size_t>(1, config.session_cache + config.max_sequences)),
      keep_alive_timer_(io) {}

TurnServiceImpl::~TurnServiceImpl() = default;

Result<store::AppId> TurnServiceImpl::app_of(const Caller& caller) {
  const auto key = std::make_pair(caller.uid, caller.app_name);
  if (auto it = apps_.find(key); it != apps_.end()) return it->second;
  GEMMAD_ASSIGN_OR_RETURN(store::AppId app, store_.ensure_app(caller.uid, caller.app_name));
  apps_[key] = app;
  return app;
}

Result<TurnServiceImpl::Prepared> TurnServiceImpl::prepare_stored(
    TurnRequest& req, const std::shared_ptr<LoadedModel>& model, uint32_t budget,
    const MediaTurn& media) {
  Prepared p;
  const StoredChat& c = req.chat;
  if (c.user_text.empty() && c.tool_results.empty()) {
    return invalid("user_text is empty (and no tool_results answer a call)");
  }
  if (c.user_text.size() > config_.max_message_bytes) {
    return too_large("user_text", c.user_text.size(), config_.max_message_bytes);
  }
  if (c.system_prompt.size() > config_.max_message_bytes) {
    return too_large("system_prompt", c.system_prompt.size(), config_.max_message_bytes);
  }
  GEMMAD_ASSIGN_OR_RETURN(p.app, app_of(req.caller));
  const chat::ChatFormat& chat = *model->chat;
  std::vector<chat::Message> turn;
  if (!c.user_text.empty()) turn.push_back({chat::Role::kUser, c.user_text});
  if (!media.anchors.empty()) {
    if (turn.empty()) return invalid("media: they belong to user_text, which is empty");
    turn.back().media = media.anchors;
  }
  p.store_turn = true;
  p.user_tokens = static_cast<int64_t>(model->tok->encode(c.user_text).size());
  if (c.new_session || c.session_id.empty()) {
    if (!c.tool_results.empty()) {
      return invalid("tool_results: a new session has no call to answer");
    }
    // Rendered before the session exists: a turn that cannot fit creates nothing.
    GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan, render_within(chat, c.system_prompt, {}, turn,
                                                           req.thinking, budget, 0, req.tools));
    p.prompt = std::move(plan.ids);
    p.media_at = std::move(plan.media_at);
    GEMMAD_ASSIGN_OR_RETURN(
        store::Session s,
        store_.create_session(p.app, c.title.empty() ? derive_title(c.user_text) : c.title,
                              c.system_prompt, options_json(req.thinking, model->name)));
    p.session_id = s.id;
    p.turns = s.turns;
    p.new_session = true;
    p.cache_key = s.id;
    return p;
  }
  GEMMAD_ASSIGN_OR_RETURN(store::Session s, store_.get_session(p.app, c.session_id));
  p.session_id = s.id;
  p.cache_key = s.id;
  p.turns = s.turns;
  // A session's stored media are placed again from the store, never from cached ids.
  GEMMAD_ASSIGN_OR_RETURN(std::vector<store::StoredMedia> stored_media,
                          store_.session_media(p.app, s.id));
  if (!stored_media.empty() && !model->encoders) {
    return invalid("session " + s.id + " holds images or audio, and model '" + model->name +
                   "' has no mmproj to encode them");
  }
  const bool plain =
      req.tools.empty() && c.tool_results.empty() && media.anchors.empty() && stored_media.empty();
  if (!req.thinking && plain) {
    SessionTokenCache::Continued cont =
        session_tokens_.continue_turn(s.id, model->name, s.turns, chat, *model->tok, c.user_text);
    if (cont.ids.empty()) {  // after a restart: the ids saved with the session's KV
      seed_from_saved_kv(session_tokens_, scheduler_.kv_store(), s.id, *model, s.turns);
      cont =
          session_tokens_.continue_turn(s.id, model->name, s.turns, chat, *model->tok, c.user_text);
    }
    if (!cont.ids.empty() && cont.ids.size() <= budget) {
      p.prompt = std::move(cont.ids);
      p.turns_left_out = cont.turns_left_out;
      return p;
    }
    p.turns_left_out = cont.turns_left_out;  // keep leaving out at least as much
  }
  GEMMAD_ASSIGN_OR_RETURN(std::vector<store::Message> history, store_.messages(p.app, s.id));
  std::vector<chat::Message> conv;
  std::vector<MediaPart> history_media;
  for (const auto& m : history) {
    if (m.role == store::Role::kSystem) continue;
    chat::Message cm;
    cm.content = m.text;
    if (m.role == store::Role::kUser) {
      cm.role = chat::Role::kUser;
      for (const store::StoredMedia& sm : stored_media) {
        if (sm.message_seq != m.seq) continue;
        GEMMAD_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store_.media_data(p.app, sm.sha256));
        const MediaInput in{.kind = sm.kind == store::MediaKind::kImage ? MediaInput::Kind::kImage
                                                                        : MediaInput::Kind::kAudio,
                            .mime = sm.mime,
                            .data = std::move(bytes),
                            .text_offset = sm.text_offset,
                            .token_budget = sm.token_budget};
        GEMMAD_ASSIGN_OR_RETURN(
            MediaPart part,
            decode_part(in, "session media " + sm.sha256.substr(0, 12), media_limits(config_)));
        cm.media.push_back({.kind = in.kind == MediaInput::Kind::kImage
                                        ? chat::MediaAnchor::Kind::kImage
                                        : chat::MediaAnchor::Kind::kAudio,
                            .offset = sm.text_offset,
                            .rows = part.n_tokens + 2});
        history_media.push_back(std::move(part));
      }
    } else if (m.role == store::Role::kTool) {
      cm.role = chat::Role::kTool;
      cm.tool_name = m.tool_name;
    } else {
      cm.role = chat::Role::kModel;
      cm.tool_calls = calls_from_json(m.tool_calls_json);
    }
    conv.push_back(std::move(cm));
  }
  if (!c.tool_results.empty()) {
    // The results answer the calls of the session's last model message, by id or in order.
    const std::vector<ToolCallOut> calls =
        history.empty() || history.back().role != store::Role::kModel
            ? std::vector<ToolCallOut>{}
            : call_outs_from_json(history.back().tool_calls_json);
    if (calls.empty()) {
      return invalid("tool_results: the session's last model message made no tool calls");
    }
    std::vector<chat::Message> results;
    for (size_t i = 0; i < c.tool_results.size(); ++i) {
      const ToolResultIn& r = c.tool_results[i];
      const std::string f = "tool_results[" + std::to_string(i) + "]";
      if (r.content.size() > config_.max_message_bytes) {
        return too_large(f + ".content", r.content.size(), config_.max_message_bytes);
      }
      std::string name = r.name;
      if (name.empty() && !r.call_id.empty()) {
        for (const ToolCallOut& k : calls) {
          if (k.id == r.call_id) name = k.name;
        }
        if (name.empty()) return invalid(f + ".call_id '" + r.call_id + "' names no call");
      }
      if (name.empty() && i < calls.size()) name = calls[i].name;
      chat::Message m{chat::Role::kTool, r.content};
      m.tool_name = name;
      results.push_back(std::move(m));
      p.tool_result_tokens.push_back(static_cast<int64_t>(model->tok->encode(r.content).size()));
    }
    std::vector<chat::Message> check = conv;
    check.insert(check.end(), results.begin(), results.end());
    GEMMAD_TRY(chat::validate_messages(check));
    turn.insert(turn.begin(), results.begin(), results.end());
    p.tool_results = std::move(results);
    p.in_thought = req.thinking && c.user_text.empty();
  }
  GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan,
                          render_within(chat, s.system_prompt, conv, turn, req.thinking, budget,
                                        p.turns_left_out, req.tools));
  p.prompt = std::move(plan.ids);
  p.media_at = std::move(plan.media_at);
  p.history_media.assign(std::make_move_iterator(history_media.begin() +
                                                 static_cast<std::ptrdiff_t>(plan.media_left_out)),
                         std::make_move_iterator(history_media.end()));
  p.turns_left_out = plan.turns_left_out;
  return p;
}

Result<TurnServiceImpl::Prepared> TurnServiceImpl::prepare(
    TurnRequest& req, const std::shared_ptr<LoadedModel>& model, const MediaTurn& media) {
  const uint32_t max_tokens =
      req.params.max_tokens ? *req.params.max_tokens : generate::kDefaultMaxTokens;
  const uint32_t budget = prompt_budget(model->n_ctx, max_tokens, config_.max_prompt_tokens);
  const chat::ChatFormat& chat = *model->chat;
  switch (req.kind) {
    case TurnKind::kStoredChat:
      return prepare_stored(req, model, budget, media);
    case TurnKind::kStatelessChat: {
      auto& msgs = req.stateless.messages;
      if (msgs.empty()) return invalid("messages is empty");
      std::string system;
      std::vector<chat::Message> conv;
      for (size_t i = 0; i < msgs.size(); ++i) {
        const ChatMessage& m = msgs[i];
        const std::string f = "messages[" + std::to_string(i) + "]";
        if (m.text.size() > config_.max_message_bytes) {
          return too_large(f + ".content", m.text.size(), config_.max_message_bytes);
        }
        if (m.role == ChatMessage::Role::kSystem) {
          if (i != 0) return invalid(f + ": a system message may only come first");
          system = m.text;
          continue;
        }
        if (m.role == ChatMessage::Role::kTool) {
          chat::Message t{chat::Role::kTool, m.text};
          t.tool_name = m.tool_name;
          if (t.tool_name.empty()) {
            // The name of the call this result answers (OpenAI sends only tool_call_id).
            for (size_t j = i; j-- > 0;) {
              for (const ToolCallOut& k : msgs[j].tool_calls) {
                if (k.id == m.tool_call_id) t.tool_name = k.name;
              }
              if (!t.tool_name.empty()) break;
            }
            if (t.tool_name.empty()) {
              return invalid(f + ".tool_call_id '" + m.tool_call_id +
                             "' names no call of an earlier assistant message");
            }
          }
          conv.push_back(std::move(t));
          continue;
        }
        const chat::Role role =
            m.role == ChatMessage::Role::kUser ? chat::Role::kUser : chat::Role::kModel;
        if (!conv.empty() && conv.back().role == role && conv.back().tool_calls.empty() &&
            m.tool_calls.empty()) {
          conv.back().content += "\n\n" + m.text;  // one template turn per role change
        } else {
          chat::Message cm{role, m.text};
          for (const ToolCallOut& k : m.tool_calls)
            cm.tool_calls.push_back({k.name, k.arguments_json});
          conv.push_back(std::move(cm));
        }
      }
      GEMMAD_TRY(chat::validate_messages(conv));
      if (conv.empty() ||
          (conv.back().role != chat::Role::kUser && conv.back().role != chat::Role::kTool)) {
        return invalid("messages: the last message must be the user's or a tool result");
      }
      // The new turn: the last user message, or the tool results after the last call.
      size_t first_new = conv.size() - 1;
      while (conv[first_new].role == chat::Role::kTool && first_new > 0 &&
             conv[first_new - 1].role == chat::Role::kTool) {
        --first_new;
      }
      std::vector<chat::Message> turn(conv.begin() + static_cast<std::ptrdiff_t>(first_new),
                                      conv.end());
      conv.resize(first_new);
      if (!media.anchors.empty()) {
        if (turn.back().role != chat::Role::kUser || msgs.back().role != ChatMessage::Role::kUser) {
          return invalid("media: they belong to the last message, which must be the user's");
        }
        // Offsets count in the last message's text; merged user messages come before it.
        const auto base =
            static_cast<uint32_t>(turn.back().content.size() - msgs.back().text.size());
        for (chat::MediaAnchor a : media.anchors) {
          a.offset += base;
          turn.back().media.push_back(a);
        }
      }
      GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan, render_within(chat, system, conv, turn, req.thinking,
                                                             budget, 0, req.tools));
      Prepared p;
      p.prompt = std::move(plan.ids);
      p.media_at = std::move(plan.media_at);
      p.turns_left_out = plan.turns_left_out;
      p.in_thought = req.thinking && turn.back().role == chat::Role::kTool;
      // Conversations that start alike share a cache key, so a client resending its
      // history reuses the KV of the common prefix.
      const std::string first = conv.empty() ? turn.front().content : conv.front().content;
      p.cache_key = "stateless:" + std::to_string(req.caller.uid) + ":" + req.caller.app_name +
                    ":" + std::to_string(std::hash<std::string>{}(system + '\x1f' + first));
      return p;
    }
    case TurnKind::kCompletion: {
      const Completion& c = req.completion;
      if (c.prompt.size() > config_.max_message_bytes) {
        return too_large("prompt", c.prompt.size(), config_.max_message_bytes);
      }
      Prepared p;
      if (c.raw) {
        if (!media.anchors.empty()) {
          return invalid("media: a raw completion has no template to place them in");
        }
        p.prompt = model->tok->encode(c.prompt, {.add_bos = true, .parse_special = false});
      } else {
        chat::Message turn{chat::Role::kUser, c.prompt};
        turn.media = media.anchors;
        chat::ChatFormat::MediaIds r = chat.render_media_ids(
            std::span(&turn, 1), {.thinking = req.thinking, .tools = req.tools});
        p.prompt = std::move(r.ids);
        p.media_at = std::move(r.media_at);
      }
      if (p.prompt.size() + media.rows > budget) {
        return make_error(ErrorCode::kOutOfRange,
                          "context_full: the prompt is " +
                              std::to_string(p.prompt.size() + media.rows) +
                              " tokens; the budget is " + std::to_string(budget) +
                              " (model.context_length minus the reply's max_tokens)");
      }
      return p;
    }
  }
  return invalid("unknown request kind");
}

Result<TurnHandle> TurnServiceImpl::start(TurnRequest request, std::shared_ptr<TurnStream> stream) {
  const Clock::time_point arrived = Clock::now();
  auto refuse = [&](Error e) -> Result<TurnHandle> {
    FinishedRequest f;
    f.front_end = request.caller.front_end;
    f.model = request.model.empty() ? registry_.default_name() : request.model;
    f.app_name = request.caller.app_name;
    f.uid = request.caller.uid;
    f.status = e;
    report(f);
    return e;
  };
  if (request.caller.app_name.empty()) return refuse(invalid("the caller has no app name"));
  auto sampling = sampling_of(request.params);
  if (!sampling.ok()) return refuse(sampling.error());
  // The session's model when continuing one without naming a model.
  if (request.kind == TurnKind::kStoredChat && !request.chat.new_session &&
      !request.chat.session_id.empty()) {
    auto app = app_of(request.caller);
    if (!app.ok()) return refuse(app.error());
    auto s = store_.get_session(*app, request.chat.session_id);
    if (!s.ok()) return refuse(s.error());
    const std::string owner = session_model(s->options_json);
    if (!owner.empty()) {
      if (request.model.empty()) {
        request.model = owner;
      } else if (request.model != owner) {
        return refuse(invalid("session " + s->id + " belongs to model '" + owner +
                              "'; continue it with that model or start a new session"));
      }
    }
  }
  auto model = registry_.acquire(request.model);
  if (!model.ok()) return refuse(model.error());
  auto limits = limits_of(request.params, (*model)->n_ctx);
  if (!limits.ok()) return refuse(limits.error());
  if (Status f = validate_features(request, **model); !f.ok()) return refuse(f.error());
  std::vector<MediaPart> media_parts;
  MediaTurn media_turn;
  if (!request.media.empty()) {
    size_t text_bytes = request.completion.prompt.size();
    if (request.kind == TurnKind::kStoredChat) text_bytes = request.chat.user_text.size();
    if (request.kind == TurnKind::kStatelessChat && !request.stateless.messages.empty()) {
      text_bytes = request.stateless.messages.back().text.size();
    }
    auto admitted = admit_media(request.media, text_bytes, media_limits(config_), (*model)->name,
                                (*model)->encoders.get());
    if (!admitted.ok()) return refuse(admitted.error());
    media_parts = std::move(admitted).value();
    for (size_t i = 0; i < media_parts.size(); ++i) {
      media_turn.anchors.push_back(
          {.kind = media_parts[i].modality == Modality::kVision ? chat::MediaAnchor::Kind::kImage
                                                                : chat::MediaAnchor::Kind::kAudio,
           .offset = request.media[i].text_offset,
           .rows = media_parts[i].n_tokens + 2});      // with its begin and end tokens
      media_turn.rows += media_parts[i].n_tokens + 2;  // with its begin and end tokens
    }
  }
  auto prepared = prepare(request, *model, media_turn);
  if (!prepared.ok()) {
    return refuse(prepared.error());
  }
  std::shared_ptr<MediaPrompt> media_prompt;
  if (!prepared->history_media.empty()) {
    media_parts.insert(media_parts.begin(),
                       std::make_move_iterator(prepared->history_media.begin()),
                       std::make_move_iterator(prepared->history_media.end()));
    prepared->history_media.clear();
  }
  if (!media_parts.empty()) {
    auto placed = MediaPrompt::place(prepared->prompt, prepared->media_at, std::move(media_parts),
                                     (*model)->media_ids, (*model)->encoders);
    if (!placed.ok()) {
      if (prepared->new_session) (void)store_.delete_session(prepared->app, prepared->session_id);
      return refuse(placed.error());
    }
    media_prompt = std::move(placed).value();
    prepared->prompt = media_prompt->ids();
    prepared->has_media = true;
    prepared->cache_key.clear();
  }
  auto policy = policy_for(request, **model, prepared->in_thought);
  if (!policy.ok()) {
    if (prepared->new_session) (void)store_.delete_session(prepared->app, prepared->session_id);
    return refuse(policy.error());
  }

  auto r = std::make_unique<Request>();
  r->handle = next_handle_++;
  r->job = r->handle;
  r->caller = request.caller;
  r->model = *model;
  r->model_name = (*model)->name;
  r->stream = stream;
  r->keep_alive = request.keep_alive;
  r->prep = std::move(prepared).value();
  r->user_text = request.chat.user_text;
  if (r->prep.store_turn) r->user_media = std::move(request.media);
  r->thinking = request.thinking;
  r->uses_tools = !request.tools.empty() || !r->prep.tool_results.empty();
  r->arrived = arrived;

  JobSpec job;
  job.id = r->job;
  job.model = r->model;
  job.fair_key = std::to_string(request.caller.uid) + ":" + request.caller.app_name;
  job.cache_key = r->prep.cache_key;
  if (r->prep.store_turn && !r->thinking && !r->uses_tools && !r->prep.has_media) {
    // The same rule as finish()'s session_tokens_.remember: only a reply stored exactly as it
    // was generated is continued from its ids, in memory or from the saved KV after a restart.
    job.cache_tag = session_kv_tag(r->model_name, r->prep.turns + 1, r->prep.turns_left_out);
    job.continuable = [in_thought = r->prep.in_thought](const std::string& text) {
      const chat::SplitReply split = chat::split_reply(text, in_thought);
      return split.reasoning.empty() && split.calls.empty() && split.answer == text;
    };
  }
  job.prompt = r->prep.prompt;
  job.media = std::move(media_prompt);
  job.sampling = *sampling;
  job.limits = *limits;
  job.policy = *policy;
  const TurnHandle handle = r->handle;
  job.sink = std::make_shared<ServiceSink>(
      io_, stream, r->prep.in_thought,
      [this, handle](JobResult res) { on_job_done(handle, std::move(res)); });
  TurnStartInfo info;
  info.session_id = r->prep.session_id;
  info.model = r->model_name;
  info.prompt_tokens = static_cast<uint32_t>(r->prep.prompt.size());
  info.turns_left_out = r->prep.turns_left_out;
  Status submitted = scheduler_.submit(std::move(job), [&] { stream->on_start(info); });
  if (!submitted.ok()) {
    // A refused first turn leaves no empty session behind.
    if (r->prep.new_session) (void)store_.delete_session(r->prep.app, r->prep.session_id);
    return refuse(submitted.error());
  }
  registry_.begin(r->model_name);
  requests_[handle] = std::move(r);
  return handle;
}

void TurnServiceImpl::cancel(TurnHandle handle) {
  auto it = requests_.find(handle);
  if (it != requests_.end()) scheduler_.cancel(it->second->job);
}

void TurnServiceImpl::on_job_done(TurnHandle handle, JobResult result) {
  auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  Request& r = *it->second;
  TurnOutcome out;
  out.stop = to_turn_stop(result.reason);
  out.message_status = message_status_of(out.stop);
  // The channels of the reply: the answer is what is stored and shown; thoughts are
  // reported apart and never stored; calls must parse (docs/GEMMA4.md §5.4).
  const chat::SplitReply split = chat::split_reply(result.text, r.prep.in_thought);
  out.text = split.answer;
  out.reasoning = split.reasoning;
  for (size_t i = 0; i < split.calls.size(); ++i) {
    const bool last = i + 1 == split.calls.size();
    if (last && split.call_open) {
      out.raw_tool_call = split.calls[i];  // cut by max_tokens / the context: not a call
      if (out.stop != TurnStop::kMaxTokens && out.stop != TurnStop::kContextFull &&
          out.stop != TurnStop::kCancelled && out.stop != TurnStop::kShutdown &&
          out.stop != TurnStop::kError) {
        out.stop = TurnStop::kToolCallInvalid;
        out.tool_call_error = "the call has no closing <tool_call|>";
      }
      break;
    }
    auto call = chat::parse_tool_call(split.calls[i]);
    if (!call.ok()) {
      out.stop = TurnStop::kToolCallInvalid;
      out.raw_tool_call = split.calls[i];
      out.tool_call_error = call.error().message;
      out.tool_calls.clear();
      break;
    }
    out.tool_calls.push_back({new_call_id(), call->name, call->arguments_json});
  }
  if (!out.tool_calls.empty() && (out.stop == TurnStop::kStopToken || out.stop == TurnStop::kEos)) {
    out.stop = TurnStop::kToolCalls;
  }
  out.session_id = r.prep.session_id;
  out.model = r.model_name;
  out.usage.prompt_tokens = static_cast<uint32_t>(result.prompt_tokens);
  out.usage.cached_tokens = static_cast<uint32_t>(result.cached_tokens);
  out.usage.completion_tokens = static_cast<uint32_t>(result.tokens.size());
  out.usage.turns_left_out = r.prep.turns_left_out;
  out.timings.queue_ms = result.timings.queue_ms;
  out.timings.prefill_ms = result.timings.prefill_ms;
  out.timings.ttft_ms = result.timings.queue_ms + result.timings.prefill_ms;
  out.timings.decode_ms = result.timings.decode_ms;
  if (result.reason == StopReason::kError) {
    out.status = result.error;
  } else if (r.prep.store_turn) {
    // The turn is committed before on_done (docs/DESIGN.md data flow step 6), on the store
    // thread; if it cannot be stored, the front-end gets the store's error instead.
    struct Commit {
      store::AppId app;
      std::string session_id, user_text, model_text;
      int64_t user_tokens = 0, model_tokens = 0;
      store::MessageStatus status;
      std::vector<chat::Message> tool_results;
      std::vector<int64_t> tool_result_tokens;
      std::string calls;
      std::vector<MediaInput> media;
    };
    // The answer is stored, not the thoughts (the template strips them anyway); a reply
    // that did not parse keeps its raw call text, so nothing the model said is lost.
    std::string stored = out.text;
    if (!out.raw_tool_call.empty()) stored += "<|tool_call>" + out.raw_tool_call;
    auto c = std::make_shared<Commit>(
        Commit{r.prep.app, r.prep.session_id, r.user_text, stored, r.prep.user_tokens,
               static_cast<int64_t>(result.tokens.size()), to_store(out.message_status),
               r.prep.tool_results, r.prep.tool_result_tokens,
               out.tool_calls.empty() ? std::string() : calls_json(out.tool_calls),
               std::move(r.user_media)});
    boost::asio::post(
        store_thread_, [this, handle, c, res = std::move(result), o = std::move(out)]() mutable {
          store::NewTurn turn;
          turn.user_text = c->user_text;
          turn.user_tokens = c->user_tokens;
          turn.model_text = c->model_text;
          turn.model_tokens = c->model_tokens;
          turn.model_status = c->status;
          for (size_t i = 0; i < c->tool_results.size(); ++i) {
            turn.tool_results.push_back({c->tool_results[i].tool_name, "",
                                         c->tool_results[i].content, c->tool_result_tokens[i]});
          }
          turn.model_tool_calls_json = c->calls;
          // Content-addressed per app, counted in its quota (store migration 4).
          std::vector<store::NewMedia> media;
          for (const MediaInput& m : c->media)
            media.push_back(to_new_media(m));
          turn.user_media = media;
          Result<store::Session> saved = store_.append_turn(c->app, c->session_id, turn);
          boost::asio::post(io_, [this, handle, res = std::move(res), o = std::move(o),
                                  saved = std::move(saved)]() mutable {
            finish(handle, std::move(res), std::move(o), std::move(saved));
          });
        });
    return;
  }
  finish(handle, std::move(result), std::move(out), std::nullopt);
}

void TurnServiceImpl::finish(TurnHandle handle, JobResult result, TurnOutcome out,
                             std::optional<Result<store::Session>> saved) {
  auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  std::unique_ptr<Request> r = std::move(it->second);
  requests_.erase(it);
  if (saved) {
    if (!saved->ok()) {
      out.status = std::move(*saved).error().with_context("turn not stored");
      out.stop = TurnStop::kError;
      session_tokens_.forget(r->prep.session_id);
    } else if ((result.reason == StopReason::kEos || result.reason == StopReason::kStopToken ||
                result.reason == StopReason::kMaxTokens) &&
               !r->thinking && !r->uses_tools && !r->prep.has_media && out.reasoning.empty() &&
               out.raw_tool_call.empty() && out.text == result.text) {
      session_tokens_.remember(r->prep.session_id, r->model_name, (*saved)->turns,
                               r->prep.turns_left_out, result.prompt, result.tokens);
    } else {
      session_tokens_.forget(r->prep.session_id);
    }
  }
  // The scheduler ended it for a reason the client must hear (a stream paused past
  // server.max_pause_ms): the partial turn is stored above; the client gets the reason.
  if (result.reason == StopReason::kCancelled && !result.error.message.empty() && out.status.ok()) {
    out.status = result.error;
    out.stop = TurnStop::kError;
  }
  FinishedRequest f;
  f.front_end = r->caller.front_end;
  f.model = r->model_name;
  f.app_name = r->caller.app_name;
  f.uid = r->caller.uid;
  f.started = true;
  f.status = out.status;
  f.stop = out.stop;
  f.usage = out.usage;
  f.queue_ms = out.timings.queue_ms;
  f.ttft_ms = out.timings.ttft_ms;
  f.decode_ms = out.timings.decode_ms;
  r->stream->on_done(std::move(out));
  registry_.end(r->model_name, r->keep_alive);
  r.reset();  // drops this request's hold on the model
  report(f);
  arm_keep_alive();
  if (requests_.empty()) {
    auto waiters = std::move(idle_waiters_);
    idle_waiters_.clear();
    for (auto& w : waiters)
      w();
  }
}

void TurnServiceImpl::when_idle(std::function<void()> done) {
  if (requests_.empty()) {
    done();
  } else {
    idle_waiters_.push_back(std::move(done));
  }
}

// One log line per finished (or refused) request; never content.
void TurnServiceImpl::report(const FinishedRequest& f) {
  if (f.status.ok()) {
    spdlog::info(
        "request: front_end={} app={} uid={} model={} outcome={} prompt={} cached={} "
        "completion={} left_out={} queue_ms={:.1f} ttft_ms={:.1f} decode_ms={:.1f}",
        f.front_end, f.app_name, f.uid, f.model, turn_stop_name(f.stop), f.usage.prompt_tokens,
        f.usage.cached_tokens, f.usage.completion_tokens, f.usage.turns_left_out, f.queue_ms,
        f.ttft_ms, f.decode_ms);
  } else {
    spdlog::info("request: front_end={} app={} uid={} model={} outcome=error code={} started={}",
                 f.front_end, f.app_name, f.uid, f.model, error_code_name(f.status.error().code),
                 f.started);
  }
  for (const auto& l : listeners_)
    l(f);
}

// Unmaps models idle past their keep_alive, and wakes up again at the next deadline.
void TurnServiceImpl::arm_keep_alive() {
  std::optional<Clock::time_point> next;
  // The returned holds keep each model alive until its lanes are released; the last one
  // unmaps it when the loop's temporary goes.
  for (const std::shared_ptr<LoadedModel>& m : registry_.expire(Clock::now(), next)) {
    spdlog::info("model {}: idle past keep_alive, unmapping", m->name);
    scheduler_.release(m.get());
  }
  if (!next) return;
  keep_alive_timer_.expires_at(*next);
  keep_alive_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) arm_keep_alive();
  });
}

std::vector<ModelEntry> TurnServiceImpl::models(bool with_files) const {
  std::vector<ModelEntry> out;
  std::set<std::string> paths;
  std::map<std::string, uint32_t> active;
  for (const auto& [h, r] : requests_)
    ++active[r->model_name];
  for (const ModelState& s : registry_.states()) {
    ModelEntry e;
    e.name = s.config.name;
    e.path = s.config.path;
    e.is_default = out.empty();
    e.mmproj_path = s.config.mmproj;
    if (auto m = s.alive.lock()) {
      e.loaded = true;
      e.resident_bytes = m->resident_bytes();
      if (m->encoders) e.modalities = m->encoders->status();
    }
    e.file_bytes = s.file_bytes;
    e.last_used_ms = s.last_used_unix_ms;
    e.keep_alive_ms = s.keep_alive_ms;
    e.n_ctx = s.n_ctx;
    e.variant = s.variant;
    e.vocab_size = s.vocab_size;
    e.active = active[e.name];
    std::error_code ec;
    paths.insert(std::filesystem::weakly_canonical(e.path, ec).string());
    out.push_back(std::move(e));
  }
  if (!with_files) return out;
  std::error_code ec;
  std::vector<ModelEntry> files;
  for (const auto& f : std::filesystem::directory_iterator(registry_.models_dir(), ec)) {
    if (f.path().extension() != ".gguf" || !f.is_regular_file(ec)) continue;
    if (paths.count(std::filesystem::weakly_canonical(f.path(), ec).string())) continue;
    ModelEntry e;
    e.name = f.path().stem().string();
    e.path = f.path().string();
    e.configured = false;
    e.file_bytes = f.file_size(ec);
    e.keep_alive_ms = 0;
    files.push_back(std::move(e));
  }
  std::sort(files.begin(), files.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.path < b.path; });
  out.insert(out.end(), files.begin(), files.end());
  return out;
}

ServiceStatus TurnServiceImpl::status() const {
  ServiceStatus s;
  const SchedulerStats st = scheduler_.stats();
  s.in_flight = static_cast<uint32_t>(requests_.size());
  s.active = st.active;
  s.queued = st.queued;
  s.steps = st.steps;
  s.tokens_generated = st.tokens_generated;
  s.kv_restored = st.kv_restored;
  s.prompt_tokens = st.prompt_tokens;
  s.kv_bytes = st.kv_bytes;
  s.decode_batch_sizes = st.decode_batch_sizes;
  if (auto n = store_.count_all_sessions(); n.ok()) s.sessions_stored = *n;
  s.uptime_s = ms_since(started_) / 1000.0;
  s.models = models(false);
  return s;
}

}  // namespace gemmad::daemon
