// OpenAI requests to turn-service calls and back (see openai_front_end.h).
#include "daemon/http/openai_front_end.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <ctime>
#include <filesystem>
#include <optional>

#include "daemon/http/openai_request.h"
#include "daemon/http/openai_response.h"

namespace gemmad::http {
namespace {

constexpr std::string_view kJson = "application/json";

void send_error(HttpExchange& ex, const ApiError& e) {
  ex.respond(e.status, kJson, error_body(e));
}

std::string finish_reason(daemon::TurnStop stop) {
  switch (stop) {
    case daemon::TurnStop::kEos:
    case daemon::TurnStop::kStopToken:
    case daemon::TurnStop::kStopString:
    case daemon::TurnStop::kCancelled:
    case daemon::TurnStop::kShutdown:
    case daemon::TurnStop::kError:
      return "stop";
    case daemon::TurnStop::kMaxTokens:
    case daemon::TurnStop::kContextFull:
      return "length";
    case daemon::TurnStop::kToolCalls:
      return "tool_calls";
    case daemon::TurnStop::kToolCallInvalid:
      return "tool_call_invalid";  // not OpenAI's; the raw text is in the reply
  }
  return "stop";
}

std::string outcome_label(const daemon::FinishedRequest& f) {
  if (f.started) return daemon::turn_stop_name(f.stop);
  if (f.status.ok()) return "refused";
  switch (f.status.error().code) {
    case ErrorCode::kResourceExhausted:
      return "busy";
    case ErrorCode::kCancelled:
      return "shutting_down";
    case ErrorCode::kNotFound:
      return "not_found";
    default:
      return "invalid";
  }
}

// A socket systemd passed us for `path` (a second ListenStream= of gemmad.socket). The main
// socket's adoption (daemon/lifecycle.h) has already consumed LISTEN_FDS, so the passed
// descriptors are matched by what they are: listening AF_UNIX stream sockets bound to
// exactly this path. None of ours can match: this process has not bound `path` yet.
std::optional<int> activated_socket_for(const std::string& path) {
  constexpr int kMaxPassed = 16;
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + kMaxPassed; ++fd) {
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, path.c_str(), 0) > 0) return fd;
  }
  return std::nullopt;
}

Usage usage_of(const daemon::TurnUsage& u) {
  return Usage{u.prompt_tokens, u.completion_tokens, u.cached_tokens};
}

daemon::ChatMessage::Role role_of(const std::string& role) {
  if (role == "system") return daemon::ChatMessage::Role::kSystem;
  if (role == "assistant") return daemon::ChatMessage::Role::kAssistant;
  if (role == "tool") return daemon::ChatMessage::Role::kTool;
  return daemon::ChatMessage::Role::kUser;
}

// The reply's message; a call that did not parse shows as the text the model wrote.
ChatReply reply_of(const daemon::TurnOutcome& o) {
  ChatReply r;
  r.text = o.text;
  r.reasoning = o.reasoning;
  for (const daemon::ToolCallOut& c : o.tool_calls)
    r.tool_calls.push_back({c.id, c.name, c.arguments_json});
  if (o.stop == daemon::TurnStop::kToolCallInvalid) {
    r.raw_tool_call = o.raw_tool_call;
    r.tool_call_error = o.tool_call_error;
  }
  return r;
}

// The request's tool, format and thinking fields as the turn service takes them.
void copy_tool_fields(OpenAiRequest& r, daemon::TurnRequest& tr) {
  for (ToolDecl& t : r.tools) {
    tr.tools.push_back({std::move(t.name), std::move(t.description), std::move(t.parameters_json)});
  }
  using Mode = daemon::ToolChoice::Mode;
  switch (r.tool_choice.mode) {
    case ToolChoiceField::Mode::kAuto:
      tr.tool_choice.mode = Mode::kAuto;
      break;
    case ToolChoiceField::Mode::kNone:
      tr.tool_choice.mode = Mode::kNone;
      break;
    case ToolChoiceField::Mode::kRequired:
      tr.tool_choice.mode = Mode::kRequired;
      break;
    case ToolChoiceField::Mode::kFunction:
      tr.tool_choice.mode = Mode::kFunction;
      tr.tool_choice.function = std::move(r.tool_choice.function);
      break;
  }
  using Type = daemon::ResponseFormat::Type;
  switch (r.response_format.type) {
    case ResponseFormatField::Type::kText:
      tr.response_format.type = Type::kText;
      break;
    case ResponseFormatField::Type::kJsonObject:
      tr.response_format.type = Type::kJsonObject;
      break;
    case ResponseFormatField::Type::kJsonSchema:
      tr.response_format.type = Type::kJsonSchema;
      tr.response_format.schema_json = std::move(r.response_format.schema_json);
      tr.response_format.strict = r.response_format.strict;
      break;
  }
  tr.thinking = r.thinking;
  tr.thinking_budget = r.thinking_budget;
}

// One request's stream of callbacks into SSE chunks (stream = true) or one JSON body.
class HttpTurnStream : public daemon::TurnStream {
 public:
  HttpTurnStream(std::shared_ptr<HttpExchange> ex, ResponseHead head, bool chat, bool stream,
                 bool include_usage)
      : ex_(std::move(ex)),
        head_(std::move(head)),
        chat_(chat),
        stream_(stream),
        include_usage_(include_usage) {}

  void on_start(const daemon::TurnStartInfo& info) override {
    head_.model = info.model;
    if (!stream_) return;
    ex_->start_stream("text/event-stream");
    if (chat_) ex_->write(sse_event(chat_chunk_body(head_, /*role_chunk=*/true, "", "")));
  }

  bool on_token(int32_t, const std::string& text) override {
    if (!stream_ || text.empty()) return ex_->writable();
    return ex_->write(sse_event(chat_ ? chat_chunk_body(head_, false, text, "")
                                      : completion_chunk_body(head_, text, "")));
  }

  // Thoughts stream as delta.reasoning_content; a call's text is held back until on_done
  // has parsed it (a client gets whole calls, never a fragment that may not parse).
  bool on_channel_text(int32_t token_id, const std::string& text, chat::Channel channel) override {
    if (channel == chat::Channel::kAnswer) return on_token(token_id, text);
    if (channel == chat::Channel::kThought && stream_ && chat_ && !text.empty()) {
      return ex_->write(sse_event(chat_reasoning_chunk_body(head_, text)));
    }
    return ex_->writable();
  }

  bool writable() override { return ex_->writable(); }

  void on_done(daemon::TurnOutcome outcome) override {
    if (!outcome.model.empty()) head_.model = outcome.model;
    const Usage usage = usage_of(outcome.usage);
    const std::string reason = finish_reason(outcome.stop);
    if (!stream_) {
      if (!outcome.status.ok()) {
        send_error(*ex_, api_error(outcome.status.error()));
        return;
      }
      ex_->respond(200, kJson,
                   chat_ ? chat_completion_body(head_, reply_of(outcome), reason, usage)
                         : completion_body(head_, outcome.text, reason, usage));
      return;
    }
    if (!outcome.status.ok()) {
      // Past the 200 header an error can only be an event; OpenAI's clients raise it.
      ex_->write(sse_event(error_body(api_error(outcome.status.error()))));
    } else {
      if (chat_) write_calls(outcome);
      ex_->write(sse_event(chat_ ? chat_chunk_body(head_, false, "", reason)
                                 : completion_chunk_body(head_, "", reason)));
      if (include_usage_) {
        ex_->write(sse_event(chat_ ? chat_usage_chunk_body(head_, usage)
                                   : completion_usage_chunk_body(head_, usage)));
      }
    }
    ex_->write(std::string(kSseDone));
    ex_->end();
  }

 private:
  void write_calls(const daemon::TurnOutcome& outcome) {
    for (size_t i = 0; i < outcome.tool_calls.size(); ++i) {
      const daemon::ToolCallOut& c = outcome.tool_calls[i];
      for (const std::string& body :
           chat_tool_call_chunk_bodies(head_, i, {c.id, c.name, c.arguments_json})) {
        ex_->write(sse_event(body));
      }
    }
    if (outcome.stop == daemon::TurnStop::kToolCallInvalid) {
      ex_->write(sse_event(
          chat_invalid_call_chunk_body(head_, outcome.raw_tool_call, outcome.tool_call_error)));
    }
  }

  std::shared_ptr<HttpExchange> ex_;
  ResponseHead head_;
  const bool chat_, stream_, include_usage_;
};

}  // namespace

OpenAiFrontEnd::OpenAiFrontEnd(daemon::TurnService& service, ConnectionCounts connections)
    : service_(service), connections_(std::move(connections)) {
  service_.add_finished_listener([this](const daemon::FinishedRequest& f) {
    RequestRecord r;
    r.front_end = f.front_end;
    r.model = f.model;
    r.outcome = outcome_label(f);
    r.prompt_tokens = f.usage.prompt_tokens;
    r.cached_tokens = f.usage.cached_tokens;
    r.generated_tokens = f.usage.completion_tokens;
    if (f.started && f.usage.completion_tokens > 0) r.ttft_seconds = f.ttft_ms / 1000.0;
    r.total_seconds = (f.ttft_ms + f.decode_ms) / 1000.0;
    metrics_.record(r);
  });
}

void OpenAiFrontEnd::handle(std::shared_ptr<HttpExchange> ex, HttpRequest req) {
  const std::string& t = req.target;
  const bool known =
      t == "/v1/models" || t == "/v1/chat/completions" || t == "/v1/completions" || t == "/metrics";
  if (!known) {
    send_error(*ex, api_error(404, "unknown_route",
                              "no route " + req.method + " " + t +
                                  "; gemmad serves /v1/models, /v1/chat/completions, "
                                  "/v1/completions and /metrics"));
    return;
  }
  const bool get = t == "/v1/models" || t == "/metrics";
  if (req.method != (get ? "GET" : "POST")) {
    send_error(*ex, api_error(405, "method_not_allowed",
                              t + " takes " + (get ? "GET" : "POST") + ", not " + req.method));
    return;
  }
  if (t == "/v1/models") return on_models(*ex);
  if (t == "/metrics") return on_metrics(*ex);
  on_generate(ex, req, t == "/v1/chat/completions");
}

void OpenAiFrontEnd::on_models(HttpExchange& ex) {
  std::vector<ModelEntry> entries;
  for (const daemon::ModelEntry& m : service_.models(false)) {
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(m.path, ec);
    const int64_t created = ec ? 0
                               : std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::file_clock::to_sys(mtime).time_since_epoch())
                                     .count();
    entries.push_back(ModelEntry{m.name, created});
  }
  ex.respond(200, kJson, models_body(entries));
}

void OpenAiFrontEnd::on_metrics(HttpExchange& ex) {
  const daemon::ServiceStatus st = service_.status();
  MetricsSnapshot s;
  s.queue_depth = st.queued;
  s.active_sequences = st.active;
  s.decode_batch_sizes = st.decode_batch_sizes;
  s.sessions_stored = static_cast<uint64_t>(std::max<int64_t>(st.sessions_stored, 0));
  for (const daemon::ModelEntry& m : st.models)
    s.resident_weight_bytes[m.name] = m.resident_bytes;
  if (connections_) s.open_connections = connections_();
  ex.respond(200, "text/plain; version=0.0.4; charset=utf-8", metrics_.render(s));
}

void OpenAiFrontEnd::on_generate(const std::shared_ptr<HttpExchange>& ex, const HttpRequest& req,
                                 bool chat) {
  Result<OpenAiRequest> parsed =
      chat ? parse_chat_request(req.body) : parse_completion_request(req.body);
  if (!parsed.ok()) return send_error(*ex, api_error(parsed.error()));
  OpenAiRequest& r = *parsed;

  daemon::TurnRequest tr;
  tr.caller.uid = req.uid;
  tr.caller.gid = req.gid;
  tr.caller.pid = req.pid;
  tr.caller.app_name = req.app.empty() ? "http" : req.app;
  tr.caller.front_end = "http";
  tr.model = r.model;
  if (chat) {
    tr.kind = daemon::TurnKind::kStatelessChat;
    for (size_t i = 0; i + 1 < r.messages.size(); ++i) {
      // Only the new (last) user message's media reach the encoders; an earlier one's would
      // be dropped silently, so it is refused instead.
      if (!r.messages[i].media.empty()) {
        return send_error(
            *ex, api_error(make_error(ErrorCode::kUnsupported,
                                      "'messages[" + std::to_string(i) +
                                          "]' carries media; only the last message may (gemmad "
                                          "keeps earlier media in stored sessions instead)")));
      }
    }
    for (ChatMessage& m : r.messages) {
      for (ContentMedia& part : m.media) {
        tr.media.push_back({.kind = part.kind == ContentMedia::Kind::kAudio
                                        ? daemon::MediaInput::Kind::kAudio
                                        : daemon::MediaInput::Kind::kImage,
                            .mime = std::move(part.mime),
                            .data = std::move(part.data),
                            .text_offset = part.text_offset,
                            .token_budget = part.token_budget});
      }
      daemon::ChatMessage dm{role_of(m.role), std::move(m.content)};
      for (MessageToolCall& c : m.tool_calls) {
        dm.tool_calls.push_back({std::move(c.id), std::move(c.name), std::move(c.arguments_json)});
      }
      dm.tool_name = std::move(m.name);
      dm.tool_call_id = std::move(m.tool_call_id);
      tr.stateless.messages.push_back(std::move(dm));
    }
    copy_tool_fields(r, tr);
  } else {
    tr.kind = daemon::TurnKind::kCompletion;
    tr.completion.prompt = std::move(r.prompt);
    tr.completion.raw = true;  // a text completion continues the text as given
  }
  tr.params.temperature = r.temperature;
  tr.params.top_p = r.top_p;
  tr.params.seed = r.seed;
  if (r.max_tokens) tr.params.max_tokens = static_cast<uint32_t>(*r.max_tokens);
  tr.params.stop = std::move(r.stop);

  ResponseHead head;
  head.id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(std::time(nullptr)) + "-" +
            std::to_string(next_id_++);
  head.created = std::time(nullptr);
  head.model = r.model;
  auto stream = std::make_shared<HttpTurnStream>(ex, head, chat, r.stream, r.include_usage);
  Result<daemon::TurnHandle> handle = service_.start(std::move(tr), stream);
  if (!handle.ok()) return send_error(*ex, api_error(handle.error()));
  const daemon::TurnHandle h = *handle;
  daemon::TurnService& service = service_;
  ex->set_on_cancel([&service, h] { service.cancel(h); });
  ex->set_on_writable([&service] { service.wake(); });
  if (ex->cancelled()) service_.cancel(h);
}

Result<std::unique_ptr<HttpFrontEnd>> HttpFrontEnd::start(
    boost::asio::io_context& io, const daemon::Config& c, daemon::TurnService& service,
    std::function<uint64_t()> protobuf_connections) {
  if (!c.http_enabled) return std::unique_ptr<HttpFrontEnd>();
  std::unique_ptr<HttpFrontEnd> fe(new HttpFrontEnd());
  HttpFrontEnd* self = fe.get();
  fe->front_end_ = std::make_unique<OpenAiFrontEnd>(service, [self, protobuf_connections] {
    std::map<std::string, uint64_t> m;
    if (protobuf_connections) m["protobuf"] = protobuf_connections();
    m["http"] = self->server_ ? self->server_->connection_count() : 0;
    return m;
  });
  HttpOptions o;
  o.max_connections = c.http_max_connections;
  o.max_header_bytes = c.http_max_header_bytes;
  o.max_body_bytes = c.http_max_body_bytes;
  o.header_timeout = std::chrono::milliseconds(c.http_header_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.http_idle_timeout_ms);
  o.stream_queue_bytes = c.http_stream_queue_bytes;
  o.socket_mode = static_cast<mode_t>(c.socket_mode);
  OpenAiFrontEnd* front = fe->front_end_.get();
  auto handler = [front](std::shared_ptr<HttpExchange> ex, HttpRequest req) {
    front->handle(std::move(ex), std::move(req));
  };
  auto log = [](std::string_view line) { spdlog::warn("{}", line); };
  const std::optional<int> passed = activated_socket_for(c.http_socket_path);
  if (passed) {
    GEMMAD_ASSIGN_OR_RETURN(fe->server_, HttpServer::adopt(io, *passed, o, handler, log));
  } else {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(c.http_socket_path).parent_path(),
                                        ec);
    GEMMAD_ASSIGN_OR_RETURN(fe->server_,
                            HttpServer::listen(io, c.http_socket_path, o, handler, log));
  }
  fe->server_->start();
  spdlog::info("http: OpenAI-compatible API on {}{}", c.http_socket_path,
               passed ? " (socket activation)" : "");
  return fe;
}

}  // namespace gemmad::http
