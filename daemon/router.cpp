// The protobuf front-end; see router.h.
#include "daemon/router.h"

#include <exception>

#include "daemon/router_wire.h"
#include "ipc/protocol.h"

namespace gemmad::daemon {
namespace {

v1::StopReason to_wire(TurnStop s) {
  switch (s) {
    case TurnStop::kEos:
      return v1::STOP_REASON_EOS;
    case TurnStop::kStopToken:
      return v1::STOP_REASON_STOP_TOKEN;
    case TurnStop::kStopString:
      return v1::STOP_REASON_STOP_STRING;
    case TurnStop::kMaxTokens:
      return v1::STOP_REASON_MAX_TOKENS;
    case TurnStop::kCancelled:
      return v1::STOP_REASON_CANCELLED;
    case TurnStop::kContextFull:
      return v1::STOP_REASON_CONTEXT_FULL;
    case TurnStop::kShutdown:
      return v1::STOP_REASON_SHUTDOWN;
    case TurnStop::kToolCalls:
      return v1::STOP_REASON_TOOL_CALLS;
    case TurnStop::kToolCallInvalid:
      return v1::STOP_REASON_TOOL_CALL_INVALID;
    case TurnStop::kError:
      return v1::STOP_REASON_UNSPECIFIED;
  }
  return v1::STOP_REASON_UNSPECIFIED;
}

v1::MessageStatus to_wire(TurnMessageStatus s) {
  switch (s) {
    case TurnMessageStatus::kComplete:
      return v1::MESSAGE_STATUS_COMPLETE;
    case TurnMessageStatus::kTruncated:
      return v1::MESSAGE_STATUS_TRUNCATED;
    case TurnMessageStatus::kInterrupted:
      return v1::MESSAGE_STATUS_CANCELLED;
  }
  return v1::MESSAGE_STATUS_UNSPECIFIED;
}

// MediaPart -> MediaInput; an unspecified kind is taken from the MIME type's prefix.
std::vector<MediaInput> media_of(const google::protobuf::RepeatedPtrField<v1::MediaPart>& parts) {
  std::vector<MediaInput> out;
  for (const v1::MediaPart& p : parts) {
    const bool audio =
        p.kind() == v1::MEDIA_KIND_AUDIO ||
        (p.kind() == v1::MEDIA_KIND_UNSPECIFIED && p.mime_type().starts_with("audio/"));
    out.push_back({.kind = audio ? MediaInput::Kind::kAudio : MediaInput::Kind::kImage,
                   .mime = p.mime_type(),
                   .data = std::vector<uint8_t>(p.data().begin(), p.data().end()),
                   .text_offset = p.text_offset(),
                   .token_budget = p.image_token_budget()});
  }
  return out;
}

GenerationParams params_from(const v1::SamplingParams& p) {
  GenerationParams g;
  if (p.has_temperature()) g.temperature = p.temperature();
  if (p.has_top_k()) g.top_k = p.top_k();
  if (p.has_top_p()) g.top_p = p.top_p();
  if (p.has_min_p()) g.min_p = p.min_p();
  if (p.has_repeat_penalty()) g.repeat_penalty = p.repeat_penalty();
  if (p.has_seed()) g.seed = p.seed();
  if (p.has_max_tokens()) g.max_tokens = p.max_tokens();
  g.ignore_eos = p.ignore_eos();
  g.stop.assign(p.stop().begin(), p.stop().end());
  return g;
}

v1::Channel to_wire(chat::Channel c) {
  switch (c) {
    case chat::Channel::kAnswer:
      return v1::CHANNEL_ANSWER;
    case chat::Channel::kThought:
      return v1::CHANNEL_THOUGHT;
    case chat::Channel::kToolCall:
      return v1::CHANNEL_TOOL_CALL;
  }
  return v1::CHANNEL_ANSWER;
}

// The tool, tool-choice and response-format fields shared by ChatRequest and GenerateRequest.
template <typename Msg>
void features_from(const Msg& m, TurnRequest& req) {
  for (const auto& t : m.tools())
    req.tools.push_back({t.name(), t.description(), t.parameters_json()});
  switch (m.tool_choice().mode()) {
    case v1::TOOL_CHOICE_NONE:
      req.tool_choice.mode = ToolChoice::Mode::kNone;
      break;
    case v1::TOOL_CHOICE_REQUIRED:
      req.tool_choice.mode = ToolChoice::Mode::kRequired;
      break;
    case v1::TOOL_CHOICE_FUNCTION:
      req.tool_choice.mode = ToolChoice::Mode::kFunction;
      req.tool_choice.function = m.tool_choice().function();
      break;
    default:
      req.tool_choice.mode = ToolChoice::Mode::kAuto;
      break;
  }
  switch (m.response_format().type()) {
    case v1::RESPONSE_FORMAT_JSON_OBJECT:
      req.response_format.type = ResponseFormat::Type::kJsonObject;
      break;
    case v1::RESPONSE_FORMAT_JSON_SCHEMA:
      req.response_format.type = ResponseFormat::Type::kJsonSchema;
      req.response_format.schema_json = m.response_format().schema_json();
      req.response_format.strict = true;
      break;
    default:
      break;
  }
  if (m.has_thinking_budget()) req.thinking_budget = m.thinking_budget();
}

// Streams one turn's tokens to its connection.
class ProtoStream : public TurnStream {
 public:
  ProtoStream(std::shared_ptr<ipc::Connection> conn, uint64_t request_id,
              std::function<void(TurnOutcome)> on_done)
      : conn_(std::move(conn)), request_id_(request_id), on_done_(std::move(on_done)) {}

  void on_start(const TurnStartInfo&) override {}
  bool on_token(int32_t token_id, const std::string& text) override {
    return on_channel_text(token_id, text, chat::Channel::kAnswer);
  }
  bool on_channel_text(int32_t token_id, const std::string& text, chat::Channel ch) override {
    if (text.empty()) return true;  // UTF-8, a stop-string prefix or a marker held back
    v1::ServerMessage m;
    m.set_request_id(request_id_);
    v1::Token* t = m.mutable_token();
    t->set_text(text);
    t->set_token_id(token_id < 0 ? 0 : static_cast<uint32_t>(token_id));
    t->set_index(index_++);
    t->set_channel(to_wire(ch));
    return conn_->send(m) != ipc::SendStatus::kFull;
  }
  bool writable() override { return conn_->writable() || conn_->closing(); }
  void on_done(TurnOutcome outcome) override {
    v1::ServerMessage reply;
    if (!outcome.status.ok()) {
      reply = ipc::make_error_reply(request_id_, outcome.status.error());
    } else {
      reply.set_request_id(request_id_);
      v1::Done& done = *reply.mutable_done();
      done.set_stop_reason(to_wire(outcome.stop));
      done.set_session_id(outcome.session_id);
      done.set_model(outcome.model);
      for (const ToolCallOut& c : outcome.tool_calls) {
        v1::ToolCall* wc = done.add_tool_calls();
        wc->set_id(c.id);
        wc->set_name(c.name);
        wc->set_arguments_json(c.arguments_json);
      }
      done.set_reasoning(outcome.reasoning);
      done.set_raw_tool_call(outcome.raw_tool_call);
      done.set_tool_call_error(outcome.tool_call_error);
      if (!outcome.session_id.empty()) done.set_message_status(to_wire(outcome.message_status));
      auto* u = done.mutable_usage();
      u->set_prompt_tokens(outcome.usage.prompt_tokens);
      u->set_completion_tokens(outcome.usage.completion_tokens);
      u->set_cached_tokens(outcome.usage.cached_tokens);
      u->set_turns_left_out(outcome.usage.turns_left_out);
      auto* t = done.mutable_timings();
      t->set_queue_ms(outcome.timings.queue_ms);
      t->set_prefill_ms(outcome.timings.prefill_ms);
      t->set_decode_ms(outcome.timings.decode_ms);
      const double fed = outcome.usage.prompt_tokens - outcome.usage.cached_tokens;
      if (outcome.timings.prefill_ms > 0)
        t->set_prefill_tok_s(fed * 1000.0 / outcome.timings.prefill_ms);
      if (outcome.timings.decode_ms > 0 && outcome.usage.completion_tokens > 1) {
        t->set_decode_tok_s((outcome.usage.completion_tokens - 1) * 1000.0 /
                            outcome.timings.decode_ms);
      }
    }
    conn_->send(reply);
    on_done_(std::move(outcome));
  }

 private:
  std::shared_ptr<ipc::Connection> conn_;
  uint64_t request_id_;
  uint32_t index_ = 0;
  std::function<void(TurnOutcome)> on_done_;
};

}  // namespace

Router::Router(const Config& config, ModelRegistry& models, TurnService& turns,
               store::SessionStore& store, const char* kernel_set)
    : config_(config), models_(models), turns_(turns), store_(store), kernel_set_(kernel_set) {}

ipc::ServerHandlers Router::handlers() {
  ipc::ServerHandlers h;
  h.on_message = [this](const ConnPtr& c, v1::ClientMessage m) { on_message(c, std::move(m)); };
  h.on_open = [this](const ConnPtr& c) {
    Client& client = clients_[c->id()];
    client.uid = c->peer().uid;
    client.gid = c->peer().gid;
    client.pid = c->peer().pid;
  };
  h.on_close = [this](const ConnPtr& c) { on_close(c); };
  h.on_writable = [this](const ConnPtr&) { turns_.wake(); };
  return h;
}

void Router::on_close(const ConnPtr& conn) {
  auto it = clients_.find(conn->id());
  if (it == clients_.end()) return;
  // A vanished client's streams stop within one step and free their KV slots.
  const auto turns = it->second.turns;
  clients_.erase(it);
  for (const auto& [request, handle] : turns)
    turns_.cancel(handle);
}

void Router::on_message(const ConnPtr& conn, v1::ClientMessage msg) {
  Client& client = clients_[conn->id()];
  const uint64_t request_id = msg.request_id();
  Status st;
  try {
    st = dispatch(conn, client, msg);
  } catch (const std::exception& e) {
    st = make_error(ErrorCode::kInternal, std::string("handler failed: ") + e.what());
  }
  if (!st.ok()) conn->send(ipc::make_error_reply(request_id, st.error()));
}

Status Router::dispatch(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  using Body = v1::ClientMessage::BodyCase;
  if (msg.body_case() == Body::kHello) return on_hello(conn, client, msg);
  if (!client.hello) return invalid("the first message must be Hello");
  switch (msg.body_case()) {
    case Body::kChat:
    case Body::kGenerate:
      return on_turn(conn, client, msg);
    case Body::kCancel: {
      auto it = client.turns.find(msg.cancel().target_request_id());
      if (it != client.turns.end()) turns_.cancel(it->second);
      v1::ServerMessage reply;
      reply.set_request_id(msg.request_id());
      reply.mutable_ack();
      conn->send(reply);
      return {};
    }
    case Body::kListSessions:
    case Body::kShowSession:
    case Body::kDeleteSession:
    case Body::kExportSession:
      return on_sessions(conn, client, msg);
    case Body::kStatus:
      return on_status(conn, msg);
    case Body::kListModels:
      return on_list_models(conn, msg);
    case Body::kTokenize:
    case Body::kDetokenize:
      return on_tokenizer(conn, msg);
    case Body::kShutdown:
      return on_shutdown(conn, client, msg);
    case Body::kHello:
    case Body::BODY_NOT_SET:
      break;
  }
  return invalid(std::string("unsupported message ") + ipc::body_name(msg.body_case()));
}

Status Router::on_hello(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  if (client.hello) return invalid("Hello was already sent on this connection");
  const auto& hello = msg.hello();
  if (hello.app_name().empty()) return invalid("Hello.app_name is empty");
  // A store that cannot register a new app (a full disk: BUSY) must not refuse the Hello:
  // status and the tokenizer need no store; session requests retry (on_sessions).
  auto app = store_.ensure_app(conn->peer().uid, hello.app_name());
  if (!app.ok() && app.error().code != ErrorCode::kResourceExhausted) return app.error();
  client.app_known = app.ok();
  if (app.ok()) client.app = *app;
  client.hello = true;
  client.uid = conn->peer().uid;
  client.app_name = hello.app_name();
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  auto* r = reply.mutable_hello_reply();
  r->set_server_version(GEMMAD_VERSION);
  r->set_protocol_version(ipc::kProtocolVersion);
  const std::vector<ModelEntry> models = turns_.models(false);
  const ModelEntry& m = models.front();  // the default model
  auto* info = r->mutable_model();
  info->set_model(m.name);
  info->set_name(m.name);
  if (auto loaded = models_.acquire(m.name); loaded.ok()) {
    if (std::string n = (*loaded)->general_name(); !n.empty()) info->set_name(n);
  }
  info->set_variant(m.variant);
  info->set_path(m.path);
  info->set_n_ctx(m.n_ctx);  // effective: min(context_length, n_ctx_train)
  info->set_vocab_size(m.vocab_size);
  auto* l = r->mutable_limits();
  l->set_max_frame_bytes(config_.max_frame_bytes);
  l->set_max_requests_in_flight(config_.max_requests_per_client);
  l->set_max_prompt_tokens(config_.max_prompt_tokens ? config_.max_prompt_tokens : m.n_ctx);
  l->set_max_message_bytes(config_.max_message_bytes);
  conn->send(reply);
  return {};
}

Status Router::on_turn(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  const uint64_t request_id = msg.request_id();
  if (client.turns.count(request_id)) {
    return invalid("request_id " + std::to_string(request_id) + " is already in flight");
  }
  if (client.turns.size() >= config_.max_requests_per_client) {
    return make_error(ErrorCode::kResourceExhausted,
                      "busy: " + std::to_string(client.turns.size()) +
                          " requests in flight on this connection (limit " +
                          std::to_string(config_.max_requests_per_client) + ")");
  }
  // Per uid across its connections: more connections buy no more requests.
  size_t of_uid = 0;
  for (const auto& [id, other] : clients_)
    of_uid += other.uid == client.uid ? other.turns.size() : 0;
  if (of_uid >= config_.max_requests_per_uid) {
    return make_error(ErrorCode::kResourceExhausted,
                      "busy: uid " + std::to_string(client.uid) + " has " + std::to_string(of_uid) +
                          " requests in flight (server.max_requests_per_uid " +
                          std::to_string(config_.max_requests_per_uid) + ")");
  }
  TurnRequest req;
  req.caller = {.uid = client.uid,
                .gid = client.gid,
                .pid = client.pid,
                .app_name = client.app_name,
                .front_end = "protobuf"};
  if (msg.has_chat()) {
    const auto& c = msg.chat();
    if (c.user_text().empty() && c.tool_results().empty()) {
      return invalid("ChatRequest.user_text is empty (and no tool_results answer a call)");
    }
    req.kind = TurnKind::kStoredChat;
    req.model = c.model();
    req.chat = {.session_id = c.session_id(),
                .new_session = c.new_session(),
                .system_prompt = c.system_prompt(),
                .title = c.title(),
                .user_text = c.user_text()};
    for (const auto& r : c.tool_results())
      req.chat.tool_results.push_back({r.name(), r.call_id(), r.content()});
    features_from(c, req);
    req.thinking = c.thinking();
    req.params = params_from(c.sampling());
    if (c.has_keep_alive_ms()) req.keep_alive = std::chrono::milliseconds(c.keep_alive_ms());
    req.media = media_of(c.media());
  } else {
    const auto& g = msg.generate();
    req.kind = TurnKind::kCompletion;
    req.model = g.model();
    req.completion = {.prompt = g.prompt(), .raw = g.raw()};
    features_from(g, req);
    req.thinking = g.thinking();
    req.params = params_from(g.sampling());
    if (g.has_keep_alive_ms()) req.keep_alive = std::chrono::milliseconds(g.keep_alive_ms());
    req.media = media_of(g.media());
  }
  const uint64_t conn_id = conn->id();
  auto stream =
      std::make_shared<ProtoStream>(conn, request_id, [this, conn_id, request_id](TurnOutcome) {
        auto it = clients_.find(conn_id);
        if (it != clients_.end()) it->second.turns.erase(request_id);
      });
  GEMMAD_ASSIGN_OR_RETURN(TurnHandle handle, turns_.start(std::move(req), std::move(stream)));
  client.turns[request_id] = handle;
  return {};
}

Status Router::on_tokenizer(const ConnPtr& conn, const v1::ClientMessage& msg) {
  GEMMAD_ASSIGN_OR_RETURN(std::shared_ptr<LoadedModel> model, models_.acquire(""));
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  if (msg.has_tokenize()) {
    const auto& req = msg.tokenize();
    if (req.text().size() > config_.max_message_bytes) {
      return make_error(ErrorCode::kOutOfRange, "text of " + std::to_string(req.text().size()) +
                                                    " bytes exceeds store.max_message_bytes " +
                                                    std::to_string(config_.max_message_bytes));
    }
    auto ids =
        model->tok->encode(req.text(), {.add_bos = req.add_bos(), .parse_special = req.special()});
    for (int32_t id : ids)
      reply.mutable_tokenize_reply()->add_ids(static_cast<uint32_t>(id));
  } else {
    std::vector<int32_t> ids(msg.detokenize().ids().begin(), msg.detokenize().ids().end());
    GEMMAD_ASSIGN_OR_RETURN(std::string text, model->tok->decode(ids));
    reply.mutable_detokenize_reply()->set_text(text);
  }
  conn->send(reply);
  return {};
}

}  // namespace gemmad::daemon
