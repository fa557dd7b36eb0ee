// The turn service: validate -> model -> session -> prompt -> schedule -> stream -> commit
// -> done, for every front-end; see turn_service.h and turn_service_impl.h.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <functional>
#include <set>

#include "daemon/session_resume.h"
#include "daemon/turn_prompt.h"
#include "daemon/turn_service_impl.h"

namespace gemmad::daemon {
namespace {

using Clock = std::chrono::steady_clock;

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

// Streams a job to its TurnStream (inference thread) and posts the end to the io thread.
class ServiceSink : public JobSink {
 public:
  ServiceSink(boost::asio::io_context& io, std::shared_ptr<TurnStream> stream,
              std::function<void(JobResult)> done)
      : io_(io), stream_(std::move(stream)), done_(std::move(done)) {}
  bool on_token(int32_t id, const std::string& text) override {
    return stream_->on_token(id, text);
  }
  bool writable() override { return stream_->writable(); }
  void on_finish(JobResult result) override {
    boost::asio::post(io_, [d = done_, r = std::move(result)]() mutable { d(std::move(r)); });
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<TurnStream> stream_;
  std::function<void(JobResult)> done_;
};

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
  }
  return "unknown";
}

// What a request became before it is scheduled.
struct TurnServiceImpl::Prepared {
  std::vector<int32_t> prompt;
  std::string cache_key;
  uint32_t turns_left_out = 0;
  bool store_turn = false;
  bool new_session = false;
  store::AppId app;
  std::string session_id;
  int64_t user_tokens = 0;
  int64_t turns = 0;  // the stored session's turns before this one
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
  bool thinking = false;
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
    TurnRequest& req, const std::shared_ptr<LoadedModel>& model, uint32_t budget) {
  Prepared p;
  const StoredChat& c = req.chat;
  if (c.user_text.empty()) return invalid("user_text is empty");
  if (c.user_text.size() > config_.max_message_bytes) {
    return too_large("user_text", c.user_text.size(), config_.max_message_bytes);
  }
  if (c.system_prompt.size() > config_.max_message_bytes) {
    return too_large("system_prompt", c.system_prompt.size(), config_.max_message_bytes);
  }
  GEMMAD_ASSIGN_OR_RETURN(p.app, app_of(req.caller));
  const chat::ChatFormat& chat = *model->chat;
  const chat::Message turn{chat::Role::kUser, c.user_text};
  p.store_turn = true;
  p.user_tokens = static_cast<int64_t>(model->tok->encode(c.user_text).size());
  if (c.new_session || c.session_id.empty()) {
    // Rendered before the session exists: a turn that cannot fit creates nothing.
    GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan,
                            render_within(chat, c.system_prompt, {}, turn, req.thinking, budget));
    p.prompt = std::move(plan.ids);
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
  if (!req.thinking) {
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
  for (const auto& m : history) {
    if (m.role == store::Role::kSystem) continue;
    conv.push_back({m.role == store::Role::kUser ? chat::Role::kUser : chat::Role::kModel, m.text});
  }
  GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan, render_within(chat, s.system_prompt, conv, turn,
                                                         req.thinking, budget, p.turns_left_out));
  p.prompt = std::move(plan.ids);
  p.turns_left_out = plan.turns_left_out;
  return p;
}

Result<TurnServiceImpl::Prepared> TurnServiceImpl::prepare(
    TurnRequest& req, const std::shared_ptr<LoadedModel>& model) {
  const uint32_t max_tokens =
      req.params.max_tokens ? *req.params.max_tokens : generate::kDefaultMaxTokens;
  const uint32_t budget = prompt_budget(model->n_ctx, max_tokens, config_.max_prompt_tokens);
  const chat::ChatFormat& chat = *model->chat;
  switch (req.kind) {
    case TurnKind::kStoredChat:
      return prepare_stored(req, model, budget);
    case TurnKind::kStatelessChat: {
      auto& msgs = req.stateless.messages;
      if (msgs.empty()) return invalid("messages is empty");
      std::string system;
      std::vector<chat::Message> conv;
      for (size_t i = 0; i < msgs.size(); ++i) {
        const ChatMessage& m = msgs[i];
        if (m.text.size() > config_.max_message_bytes) {
          return too_large("messages[" + std::to_string(i) + "].content", m.text.size(),
                           config_.max_message_bytes);
        }
        if (m.role == ChatMessage::Role::kSystem) {
          if (i != 0) {
            return invalid("messages[" + std::to_string(i) +
                           "]: a system message may only come first");
          }
          system = m.text;
          continue;
        }
        const chat::Role role =
            m.role == ChatMessage::Role::kUser ? chat::Role::kUser : chat::Role::kModel;
        if (!conv.empty() && conv.back().role == role) {
          conv.back().content += "\n\n" + m.text;  // one template turn per role change
        } else {
          conv.push_back({role, m.text});
        }
      }
      if (conv.empty() || conv.back().role != chat::Role::kUser) {
        return invalid("messages: the last message must be the user's");
      }
      const chat::Message turn = conv.back();
      conv.pop_back();
      GEMMAD_ASSIGN_OR_RETURN(PromptPlan plan,
                              render_within(chat, system, conv, turn, req.thinking, budget));
      Prepared p;
      p.prompt = std::move(plan.ids);
      p.turns_left_out = plan.turns_left_out;
      // Conversations that start alike share a cache key, so a client resending its
      // history reuses the KV of the common prefix.
      const std::string first = conv.empty() ? turn.content : conv.front().content;
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
        p.prompt = model->tok->encode(c.prompt, {.add_bos = true, .parse_special = false});
      } else {
        const chat::Message turn{chat::Role::kUser, c.prompt};
        p.prompt = chat.render_ids(std::span(&turn, 1), {.thinking = req.thinking});
      }
      if (p.prompt.size() > budget) {
        return make_error(ErrorCode::kOutOfRange,
                          "context_full: the prompt is " + std::to_string(p.prompt.size()) +
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
  auto prepared = prepare(request, *model);
  if (!prepared.ok()) return refuse(prepared.error());

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
  r->thinking = request.thinking;
  r->arrived = arrived;

  JobSpec job;
  job.id = r->job;
  job.model = r->model;
  job.fair_key = std::to_string(request.caller.uid) + ":" + request.caller.app_name;
  job.cache_key = r->prep.cache_key;
  if (r->prep.store_turn && !r->thinking) {
    job.cache_tag = session_kv_tag(r->model_name, r->prep.turns + 1, r->prep.turns_left_out);
  }
  job.prompt = r->prep.prompt;
  job.sampling = *sampling;
  job.limits = *limits;
  const TurnHandle handle = r->handle;
  job.sink = std::make_shared<ServiceSink>(
      io_, stream, [this, handle](JobResult res) { on_job_done(handle, std::move(res)); });
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
  out.text = result.text;
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
    };
    auto c = std::make_shared<Commit>(
        Commit{r.prep.app, r.prep.session_id, r.user_text, result.text, r.prep.user_tokens,
               static_cast<int64_t>(result.tokens.size()), to_store(out.message_status)});
    boost::asio::post(
        store_thread_, [this, handle, c, res = std::move(result), o = std::move(out)]() mutable {
          store::NewTurn turn;
          turn.user_text = c->user_text;
          turn.user_tokens = c->user_tokens;
          turn.model_text = c->model_text;
          turn.model_tokens = c->model_tokens;
          turn.model_status = c->status;
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
               !r->thinking) {
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
  for (const LoadedModel* m : registry_.expire(Clock::now(), next)) {
    spdlog::info("model {}: idle past keep_alive, unmapping", m->name);
    scheduler_.release(m);
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
    if (auto m = s.alive.lock()) {
      e.loaded = true;
      e.resident_bytes = m->resident_bytes();
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
