// Scripted request handling for transport and client tests (see fake_daemon.h).
#include "fake_daemon.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "ipc/protocol.h"

namespace gemmad::ipc::testing {

FakeDaemon::~FakeDaemon() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    notify_locked();
  }
  for (std::thread& t : producers_)
    t.join();
}

ServerHandlers FakeDaemon::handlers(std::function<std::size_t()> clients_connected) {
  clients_connected_ = std::move(clients_connected);
  ServerHandlers h;
  h.on_message = [this](const std::shared_ptr<Connection>& conn, v1::ClientMessage message) {
    on_message(conn, std::move(message));
  };
  h.on_open = [this](const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mutex_);
    observed_.opened++;
    observed_.last_opened = conn;
    notify_locked();
  };
  h.on_close = [this](const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mutex_);
    observed_.closed++;
    for (auto& [key, stream] : streams_) {
      if (key.first == conn->id()) stream->conn_closed = true;
    }
    notify_locked();
  };
  h.on_writable = [this](const std::shared_ptr<Connection>& conn) {
    std::lock_guard lock(mutex_);
    observed_.writable_calls++;
    for (auto& [key, stream] : streams_) {
      if (key.first == conn->id()) stream->paused = false;
    }
    notify_locked();
  };
  h.log = [this](std::string_view line) {
    std::lock_guard lock(mutex_);
    observed_.log.emplace_back(line);
    notify_locked();
  };
  return h;
}

bool FakeDaemon::wait_until(const std::function<bool(const Observed&)>& predicate,
                            std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return predicate(observed_); });
}

FakeDaemon::Observed FakeDaemon::snapshot() {
  std::lock_guard lock(mutex_);
  return observed_;
}

void FakeDaemon::on_message(const std::shared_ptr<Connection>& conn, v1::ClientMessage message) {
  v1::ServerMessage reply;
  reply.set_request_id(message.request_id());
  switch (message.body_case()) {
    case v1::ClientMessage::kHello: {
      {
        std::lock_guard lock(mutex_);
        observed_.hellos++;
        observed_.peers.push_back(conn->peer());
        observed_.app_names.push_back(message.hello().app_name());
        notify_locked();
      }
      v1::HelloReply* hello = reply.mutable_hello_reply();
      hello->set_server_version("fake 0");
      hello->set_protocol_version(kProtocolVersion);
      hello->mutable_model()->set_name("fake-model");
      hello->mutable_model()->set_variant("custom");
      hello->mutable_model()->set_n_ctx(4096);
      hello->mutable_model()->set_vocab_size(256);
      hello->mutable_limits()->set_max_frame_bytes(kDefaultMaxFrameBytes);
      hello->mutable_limits()->set_max_requests_in_flight(4);
      break;
    }
    case v1::ClientMessage::kChat:
    case v1::ClientMessage::kGenerate:
      start_stream(conn, message);
      return;
    case v1::ClientMessage::kCancel: {
      std::lock_guard lock(mutex_);
      const std::uint64_t target = message.cancel().target_request_id();
      observed_.cancel_targets.push_back(target);
      auto it = streams_.find({conn->id(), target});
      if (it != streams_.end()) it->second->cancelled = true;
      notify_locked();
      reply.mutable_ack();
      break;
    }
    case v1::ClientMessage::kListSessions: {
      v1::SessionList* list = reply.mutable_session_list();
      for (const char* id : {"s2", "s1"}) {
        v1::SessionInfo* info = list->add_sessions();
        info->set_id(id);
        info->set_title(std::string("title of ") + id);
        info->set_turns(2);
        info->set_updated_ms(1'700'000'000'000);
      }
      break;
    }
    case v1::ClientMessage::kShowSession: {
      if (message.show_session().session_id() != "s1") {
        reply = make_error_reply(
            message.request_id(), v1::ERROR_CODE_NOT_FOUND,
            "session '" + message.show_session().session_id() + "' does not exist");
        break;
      }
      v1::SessionDetail* detail = reply.mutable_session_detail();
      detail->mutable_info()->set_id("s1");
      v1::SessionMessage* m = detail->add_messages();
      m->set_role(v1::ROLE_USER);
      m->set_text("hello");
      m->set_status(v1::MESSAGE_STATUS_COMPLETE);
      break;
    }
    case v1::ClientMessage::kDeleteSession:
    case v1::ClientMessage::kShutdown:  // acknowledged; the fake keeps serving
      reply.mutable_ack();
      break;
    case v1::ClientMessage::kExportSession:
      reply.mutable_session_export()->set_session_id(message.export_session().session_id());
      reply.mutable_session_export()->set_format("json");
      reply.mutable_session_export()->set_content("{}");
      break;
    case v1::ClientMessage::kStatus: {
      v1::StatusReply* status = reply.mutable_status_reply();
      status->set_daemon_version("fake 0");
      status->set_pid(static_cast<std::uint32_t>(::getpid()));
      if (clients_connected_) {
        status->set_clients_connected(static_cast<std::uint32_t>(clients_connected_()));
      }
      v1::BatchSizeCount* bucket = status->mutable_batch()->add_histogram();
      bucket->set_batch_size(1);
      bucket->set_steps(7);
      break;
    }
    case v1::ClientMessage::kTokenize:
      // One id per byte: enough to check the plumbing, and checkable by the tests.
      for (unsigned char c : message.tokenize().text())
        reply.mutable_tokenize_reply()->add_ids(c);
      break;
    case v1::ClientMessage::kDetokenize:
      for (std::uint32_t id : message.detokenize().ids()) {
        reply.mutable_detokenize_reply()->mutable_text()->push_back(static_cast<char>(id));
      }
      break;
    case v1::ClientMessage::kListModels: {
      v1::ModelInfo* m = reply.mutable_model_list()->add_models();
      m->set_model("fake");
      m->set_configured(true);
      m->set_is_default(true);
      reply.mutable_model_list()->set_models_dir("/fake/models");
      break;
    }
    case v1::ClientMessage::BODY_NOT_SET:
      reply = make_error_reply(message.request_id(), v1::ERROR_CODE_UNSUPPORTED,
                               "request has no body this daemon knows");
      break;
  }
  conn->send(reply);
}

void FakeDaemon::start_stream(const std::shared_ptr<Connection>& conn,
                              const v1::ClientMessage& message) {
  auto stream = std::make_shared<Stream>();
  stream->conn = conn;
  stream->request_id = message.request_id();
  if (message.has_chat()) {
    const v1::ChatRequest& chat = message.chat();
    if (chat.sampling().has_max_tokens()) stream->tokens = chat.sampling().max_tokens();
    stream->text = chat.user_text();
    stream->ignore_backpressure = chat.title() == "ignore-backpressure";
    stream->wait_for_cancel = chat.title() == "wait-for-cancel";
  } else {
    if (message.generate().sampling().has_max_tokens()) {
      stream->tokens = message.generate().sampling().max_tokens();
    }
    stream->text = message.generate().prompt();
  }
  std::lock_guard lock(mutex_);
  streams_[{conn->id(), stream->request_id}] = stream;
  producers_.emplace_back([this, stream] { produce(stream); });
}

void FakeDaemon::produce(std::shared_ptr<Stream> stream) {
  std::uint32_t produced = 0;
  bool cancelled = false;
  for (std::uint32_t i = 0; i < stream->tokens; ++i) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] {
        return !stream->paused || stream->cancelled || stream->conn_closed || shutting_down_;
      });
      if (stream->conn_closed || shutting_down_) break;
      if (stream->cancelled) {
        cancelled = true;
        break;
      }
    }
    v1::ServerMessage token;
    token.set_request_id(stream->request_id);
    token.mutable_token()->set_text(stream->text);
    token.mutable_token()->set_token_id(i % 256);
    token.mutable_token()->set_index(i);
    const SendStatus status = stream->conn->send(token);
    const std::size_t queued = stream->conn->queued_bytes();
    std::unique_lock lock(mutex_);
    observed_.max_queued_bytes = std::max(observed_.max_queued_bytes, queued);
    if (status == SendStatus::kClosed || status == SendStatus::kTooLarge) {
      observed_.closed_reports++;
      notify_locked();
      return;
    }
    ++produced;
    observed_.tokens_queued++;
    if (status == SendStatus::kFull) {
      observed_.full_reports++;
      // The daemon's pattern: pause, but re-check writable() under the lock on_writable takes,
      // so a drain that happened between send() and here is not a lost wakeup.
      if (!stream->ignore_backpressure) stream->paused = !stream->conn->writable();
    }
    notify_locked();
    if (stream->wait_for_cancel && i == 0) {
      changed_.wait(lock,
                    [&] { return stream->cancelled || stream->conn_closed || shutting_down_; });
    }
  }
  {
    std::lock_guard lock(mutex_);
    cancelled = cancelled || stream->cancelled;
    if (stream->conn_closed || shutting_down_) return;
  }
  v1::ServerMessage done;
  done.set_request_id(stream->request_id);
  done.mutable_done()->set_stop_reason(cancelled ? v1::STOP_REASON_CANCELLED
                                                 : v1::STOP_REASON_MAX_TOKENS);
  done.mutable_done()->mutable_usage()->set_completion_tokens(produced);
  done.mutable_done()->set_session_id("s1");
  stream->conn->send(done);
  std::lock_guard lock(mutex_);
  streams_.erase({stream->conn->id(), stream->request_id});
  notify_locked();
}

}  // namespace gemmad::ipc::testing
