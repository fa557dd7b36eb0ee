// Request routing; see router.h.
#include "daemon/router.h"

#include <boost/asio/post.hpp>
#include <exception>
#include <fstream>

#include "chat/chat_format.h"
#include "daemon/router_wire.h"
#include "ipc/protocol.h"

namespace gemmad::daemon {
namespace {

v1::StopReason to_wire(StopReason r) {
  switch (r) {
    case StopReason::kEos:
      return v1::STOP_REASON_EOS;
    case StopReason::kStopToken:
      return v1::STOP_REASON_STOP_TOKEN;
    case StopReason::kMaxTokens:
      return v1::STOP_REASON_MAX_TOKENS;
    case StopReason::kCancelled:
      return v1::STOP_REASON_CANCELLED;
    case StopReason::kContextFull:
      return v1::STOP_REASON_CONTEXT_FULL;
    case StopReason::kShutdown:
      return v1::STOP_REASON_SHUTDOWN;
    case StopReason::kError:
      return v1::STOP_REASON_UNSPECIFIED;
  }
  return v1::STOP_REASON_UNSPECIFIED;
}

// Sampling from the request, with Gemma 4's recommended defaults (spec §5.3) where unset.
Result<sampler::SamplingParams> sampling_from(const v1::SamplingParams& p, uint32_t n_ctx) {
  sampler::SamplingParams s;
  s.temperature = p.has_temperature() ? p.temperature() : 1.0f;
  s.top_k = p.has_top_k() ? p.top_k() : 64;
  s.top_p = p.has_top_p() ? p.top_p() : 0.95f;
  s.min_p = p.has_min_p() ? p.min_p() : 0.0f;
  s.repetition_penalty = p.has_repeat_penalty() ? p.repeat_penalty() : 1.0f;
  s.seed = p.has_seed()
               ? p.seed()
               : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  s.max_tokens = p.has_max_tokens() ? static_cast<int32_t>(p.max_tokens()) : 512;
  if (s.max_tokens < 1 || static_cast<uint32_t>(s.max_tokens) >= n_ctx) {
    return invalid("sampling.max_tokens must be in [1, " + std::to_string(n_ctx - 1) + "]");
  }
  if (p.ignore_eos()) s.stop_ids.clear();
  GEMMAD_TRY(sampler::validate(s));
  return s;
}

// Streams a job's tokens to its connection. Runs on the inference thread.
class StreamSink : public JobSink {
 public:
  StreamSink(boost::asio::io_context& io, std::shared_ptr<ipc::Connection> conn,
             uint64_t request_id, std::function<void(JobResult)> on_done)
      : io_(io), conn_(std::move(conn)), request_id_(request_id), on_done_(std::move(on_done)) {}

  bool on_token(int32_t token_id, const std::string& text) override {
    if (text.empty()) return true;  // UTF-8 held back; nothing to show yet
    v1::ServerMessage m;
    m.set_request_id(request_id_);
    v1::Token* t = m.mutable_token();
    t->set_text(text);
    t->set_token_id(token_id < 0 ? 0 : static_cast<uint32_t>(token_id));
    t->set_index(index_++);
    return conn_->send(m) != ipc::SendStatus::kFull;
  }
  bool writable() override { return conn_->writable() || conn_->closing(); }
  void on_finish(JobResult result) override {
    boost::asio::post(io_,
                      [done = on_done_, r = std::move(result)]() mutable { done(std::move(r)); });
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<ipc::Connection> conn_;
  uint64_t request_id_;
  uint32_t index_ = 0;
  std::function<void(JobResult)> on_done_;
};

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

}  // namespace

Router::Router(boost::asio::io_context& io, const Config& config, const runtime::Model& model,
               const tokenizer::Tokenizer& tokenizer, const chat::ChatFormat& chat,
               store::SessionStore& store, Scheduler& scheduler, const char* kernel_set)
    : io_(io),
      config_(config),
      model_(model),
      tokenizer_(tokenizer),
      chat_(chat),
      store_(store),
      scheduler_(scheduler),
      kernel_set_(kernel_set) {}

ipc::ServerHandlers Router::handlers() {
  ipc::ServerHandlers h;
  h.on_message = [this](const ConnPtr& c, v1::ClientMessage m) { on_message(c, std::move(m)); };
  h.on_open = [this](const ConnPtr& c) {
    Client& client = clients_[c->id()];
    client.uid = c->peer().uid;
  };
  h.on_close = [this](const ConnPtr& c) { on_close(c); };
  h.on_writable = [this](const ConnPtr&) { scheduler_.wake(); };
  return h;
}

void Router::on_close(const ConnPtr& conn) {
  auto it = clients_.find(conn->id());
  if (it == clients_.end()) return;
  // A vanished client's streams stop within one step and free their KV slots.
  for (auto& [request, job] : it->second.jobs)
    scheduler_.cancel(job);
  clients_.erase(it);
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
      return on_chat(conn, client, msg);
    case Body::kGenerate:
      return on_generate(conn, client, msg);
    case Body::kCancel: {
      auto it = client.jobs.find(msg.cancel().target_request_id());
      if (it != client.jobs.end()) scheduler_.cancel(it->second);
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
    case Body::kShutdown:
      return on_shutdown(conn, client, msg);
    case Body::kTokenize: {
      const auto& req = msg.tokenize();
      if (req.text().size() > config_.max_message_bytes) {
        return make_error(ErrorCode::kOutOfRange, "text of " + std::to_string(req.text().size()) +
                                                      " bytes exceeds store.max_message_bytes " +
                                                      std::to_string(config_.max_message_bytes));
      }
      auto ids =
          tokenizer_.encode(req.text(), {.add_bos = req.add_bos(), .parse_special = req.special()});
      v1::ServerMessage reply;
      reply.set_request_id(msg.request_id());
      for (int32_t id : ids)
        reply.mutable_tokenize_reply()->add_ids(static_cast<uint32_t>(id));
      conn->send(reply);
      return {};
    }
    case Body::kDetokenize: {
      std::vector<int32_t> ids(msg.detokenize().ids().begin(), msg.detokenize().ids().end());
      GEMMAD_ASSIGN_OR_RETURN(std::string text, tokenizer_.decode(ids));
      v1::ServerMessage reply;
      reply.set_request_id(msg.request_id());
      reply.mutable_detokenize_reply()->set_text(text);
      conn->send(reply);
      return {};
    }
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
  GEMMAD_ASSIGN_OR_RETURN(client.app, store_.ensure_app(conn->peer().uid, hello.app_name()));
  client.hello = true;
  client.uid = conn->peer().uid;
  client.app_name = hello.app_name();
  v1::ServerMessage reply;
  reply.set_request_id(msg.request_id());
  auto* r = reply.mutable_hello_reply();
  r->set_server_version(GEMMAD_VERSION);
  r->set_protocol_version(ipc::kProtocolVersion);
  auto* m = r->mutable_model();
  m->set_name(std::string(model_.file().get_string("general.name").ok()
                              ? *model_.file().get_string("general.name")
                              : std::string_view("")));
  m->set_variant(model_.config().variant);
  m->set_path(config_.model_path);
  m->set_n_ctx(config_.context_length);
  m->set_vocab_size(static_cast<uint32_t>(tokenizer_.vocab_size()));
  auto* l = r->mutable_limits();
  l->set_max_frame_bytes(config_.max_frame_bytes);
  l->set_max_requests_in_flight(config_.max_requests_per_client);
  l->set_max_prompt_tokens(config_.max_prompt_tokens);
  l->set_max_message_bytes(config_.max_message_bytes);
  conn->send(reply);
  return {};
}

Status Router::start_job(const ConnPtr& conn, Client& client, uint64_t request_id, JobSpec job,
                         std::function<Status(const JobResult&, v1::Done&)> on_complete) {
  if (client.jobs.count(request_id)) {
    return invalid("request_id " + std::to_string(request_id) + " is already in flight");
  }
  if (client.jobs.size() >= config_.max_requests_per_client) {
    return make_error(ErrorCode::kResourceExhausted,
                      "busy: " + std::to_string(client.jobs.size()) +
                          " requests in flight on this connection (limit " +
                          std::to_string(config_.max_requests_per_client) + ")");
  }
  if (job.prompt.size() > config_.max_prompt_tokens) {
    return make_error(ErrorCode::kOutOfRange, "prompt of " + std::to_string(job.prompt.size()) +
                                                  " tokens exceeds store.max_prompt_tokens " +
                                                  std::to_string(config_.max_prompt_tokens));
  }
  const uint64_t job_id = next_job_++;
  job.id = job_id;
  job.fair_key = std::to_string(client.uid) + ":" + client.app_name;
  const uint64_t conn_id = conn->id();
  std::weak_ptr<ipc::Connection> weak = conn;
  job.sink = std::make_shared<StreamSink>(
      io_, conn, request_id, [this, weak, conn_id, request_id, on_complete](JobResult r) {
        --in_flight_;
        auto it = clients_.find(conn_id);
        if (it != clients_.end()) it->second.jobs.erase(request_id);
        v1::ServerMessage reply;
        reply.set_request_id(request_id);
        if (r.reason == StopReason::kError) {
          reply = ipc::make_error_reply(request_id, r.error);
        } else {
          v1::Done& done = *reply.mutable_done();
          done.set_stop_reason(to_wire(r.reason));
          done.mutable_usage()->set_prompt_tokens(static_cast<uint32_t>(r.prompt_tokens));
          done.mutable_usage()->set_completion_tokens(static_cast<uint32_t>(r.tokens.size()));
          done.mutable_usage()->set_cached_tokens(static_cast<uint32_t>(r.cached_tokens));
          auto* t = done.mutable_timings();
          t->set_queue_ms(r.timings.queue_ms);
          t->set_prefill_ms(r.timings.prefill_ms);
          t->set_decode_ms(r.timings.decode_ms);
          const int32_t fed = r.prompt_tokens - r.cached_tokens;
          if (r.timings.prefill_ms > 0) t->set_prefill_tok_s(fed * 1000.0 / r.timings.prefill_ms);
          if (r.timings.decode_ms > 0 && r.tokens.size() > 1) {
            t->set_decode_tok_s((r.tokens.size() - 1) * 1000.0 / r.timings.decode_ms);
          }
          // The turn is committed here, before Done leaves (DESIGN.md data flow step 6).
          // If it cannot be stored, the client gets the store's error instead of Done.
          Status stored = on_complete(r, done);
          if (!stored.ok()) reply = ipc::make_error_reply(request_id, stored.error());
        }
        if (auto c = weak.lock()) c->send(reply);
      });
  GEMMAD_TRY(scheduler_.submit(std::move(job)));
  client.jobs[request_id] = job_id;
  ++in_flight_;
  return {};
}

Status Router::on_generate(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  const auto& req = msg.generate();
  if (req.prompt().size() > config_.max_message_bytes) {
    return make_error(ErrorCode::kOutOfRange, "prompt of " + std::to_string(req.prompt().size()) +
                                                  " bytes exceeds store.max_message_bytes " +
                                                  std::to_string(config_.max_message_bytes));
  }
  JobSpec job;
  GEMMAD_ASSIGN_OR_RETURN(job.sampling, sampling_from(req.sampling(), config_.context_length));
  if (req.raw()) {
    job.prompt = tokenizer_.encode(req.prompt(), {.add_bos = true, .parse_special = false});
  } else {
    const chat::Message turn{chat::Role::kUser, req.prompt()};
    job.prompt = chat_.render_ids(std::span(&turn, 1));
  }
  return start_job(conn, client, msg.request_id(), std::move(job),
                   [](const JobResult&, v1::Done&) { return Status{}; });
}

Status Router::on_chat(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg) {
  const auto& req = msg.chat();
  if (req.user_text().empty()) return invalid("ChatRequest.user_text is empty");
  if (req.user_text().size() > config_.max_message_bytes) {
    return make_error(ErrorCode::kOutOfRange, "user_text of " +
                                                  std::to_string(req.user_text().size()) +
                                                  " bytes exceeds store.max_message_bytes " +
                                                  std::to_string(config_.max_message_bytes));
  }
  JobSpec job;
  GEMMAD_ASSIGN_OR_RETURN(job.sampling, sampling_from(req.sampling(), config_.context_length));
  store::Session session;
  std::vector<store::Message> history;
  if (req.new_session() || req.session_id().empty()) {
    const std::string options =
        std::string("{\"thinking\":") + (req.thinking() ? "true" : "false") + "}";
    GEMMAD_ASSIGN_OR_RETURN(
        session, store_.create_session(
                     client.app, req.title().empty() ? derive_title(req.user_text()) : req.title(),
                     req.system_prompt(), options));
  } else {
    GEMMAD_ASSIGN_OR_RETURN(session, store_.get_session(client.app, req.session_id()));
    GEMMAD_ASSIGN_OR_RETURN(history, store_.messages(client.app, session.id));
  }
  job.prompt = req.thinking() ? std::vector<int32_t>{}
                              : continue_session(session.id, session.turns, req.user_text());
  std::vector<chat::Message> conv;
  if (!session.system_prompt.empty()) conv.push_back({chat::Role::kSystem, session.system_prompt});
  for (const auto& m : history) {
    if (m.role == store::Role::kSystem) continue;
    conv.push_back({m.role == store::Role::kUser ? chat::Role::kUser : chat::Role::kModel, m.text});
  }
  conv.push_back({chat::Role::kUser, req.user_text()});
  if (job.prompt.empty()) job.prompt = chat_.render_ids(conv, {.thinking = req.thinking()});
  job.cache_key = session.id;
  const std::string session_id = session.id;
  const store::AppId app = client.app;
  const std::string user_text = req.user_text();
  const int64_t user_tokens = static_cast<int64_t>(tokenizer_.encode(user_text).size());
  return start_job(conn, client, msg.request_id(), std::move(job),
                   [this, app, session_id, user_text, user_tokens](const JobResult& r,
                                                                   v1::Done& done) -> Status {
                     store::NewTurn turn;
                     turn.user_text = user_text;
                     turn.user_tokens = user_tokens;
                     turn.model_text = r.text;
                     turn.model_tokens = static_cast<int64_t>(r.tokens.size());
                     const bool cut =
                         r.reason == StopReason::kCancelled || r.reason == StopReason::kShutdown;
                     turn.model_status =
                         cut ? store::MessageStatus::kInterrupted : store::MessageStatus::kComplete;
                     auto saved = store_.append_turn(app, session_id, turn);
                     if (!saved.ok())
                       return std::move(saved).error().with_context("turn not stored");
                     done.set_session_id(session_id);
                     if (!cut) {
                       std::vector<int32_t> seq = r.prompt;
                       seq.insert(seq.end(), r.tokens.begin(), r.tokens.end());
                       remember_session(session_id, saved->turns, std::move(seq));
                     }
                     return Status{};
                   });
}

}  // namespace gemmad::daemon

namespace gemmad::daemon {

std::vector<int32_t> Router::continue_session(const std::string& session_id, int64_t turns,
                                              const std::string& user_text) {
  auto it = session_tokens_.find(session_id);
  if (it == session_tokens_.end() || it->second.turns != turns) return {};
  // Close the model turn the way the chat format does (spec §5.4), then the new user turn
  // and the generation prompt.
  std::vector<int32_t> ids = it->second.tokens;
  ids.push_back(chat_.turn_end_id());
  tokenizer_.encode_append("\n", false, ids);
  const chat::Message turn{chat::Role::kUser, user_text};
  const auto tail = chat_.render_ids(std::span(&turn, 1), {.add_bos = false});
  ids.insert(ids.end(), tail.begin(), tail.end());
  it->second.last_used = ++session_clock_;
  return ids;
}

void Router::remember_session(const std::string& session_id, int64_t turns,
                              std::vector<int32_t> tokens) {
  session_tokens_[session_id] = {turns, std::move(tokens), ++session_clock_};
  // Bounded: as many sessions as the scheduler keeps KV for.
  const size_t cap = std::max<size_t>(1, config_.session_cache + config_.max_sequences);
  while (session_tokens_.size() > cap) {
    auto oldest = session_tokens_.begin();
    for (auto j = session_tokens_.begin(); j != session_tokens_.end(); ++j) {
      if (j->second.last_used < oldest->second.last_used) oldest = j;
    }
    session_tokens_.erase(oldest);
  }
}

}  // namespace gemmad::daemon
