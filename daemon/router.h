// Request routing: turns each ClientMessage of a connection into store, tokenizer and
// scheduler calls, and every outcome into exactly one reply stream. One error boundary per
// request (STYLE.md): whatever a handler returns or throws becomes an Error frame for that
// request, and the connection and the daemon stay up.
//
// Threads: every public method runs on the io thread, except JobSink callbacks (inference
// thread), which only send frames (Connection::send is thread-safe) and post completions
// back to the io thread, where turns are committed to the store before Done is sent.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "chat/chat_format.h"
#include "daemon/config.h"
#include "daemon/scheduler.h"
#include "ipc/server.h"
#include "runtime/model.h"
#include "store/session_store.h"
#include "tokenizer/tokenizer.h"

namespace gemmad::daemon {

class Router {
 public:
  Router(boost::asio::io_context& io, const Config& config, const runtime::Model& model,
         const tokenizer::Tokenizer& tokenizer, const chat::ChatFormat& chat,
         store::SessionStore& store, Scheduler& scheduler, const char* kernel_set);

  // Handlers for ipc::Server.
  ipc::ServerHandlers handlers();
  void set_server(ipc::Server* server) { server_ = server; }
  // What a permitted Shutdown request runs (main's drain, the same path as SIGTERM); `why`
  // is for the log.
  void set_shutdown(std::function<void(const std::string& why)> begin) {
    shutdown_ = std::move(begin);
  }
  // The Landlock state Status reports (landlock_policy.h).
  void set_landlock(std::string state) { landlock_ = std::move(state); }
  // Requests still streaming (for drain).
  size_t in_flight() const { return in_flight_; }

 private:
  struct Client {
    bool hello = false;
    uint32_t uid = 0;
    std::string app_name;
    store::AppId app;
    std::map<uint64_t, uint64_t> jobs;  // request_id -> scheduler job id
  };
  using ConnPtr = std::shared_ptr<ipc::Connection>;

  void on_message(const ConnPtr& conn, v1::ClientMessage msg);
  Status dispatch(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_hello(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_chat(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_generate(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_sessions(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_status(const ConnPtr& conn, const v1::ClientMessage& msg);
  Status on_shutdown(const ConnPtr& conn, const Client& client, const v1::ClientMessage& msg);
  Status start_job(const ConnPtr& conn, Client& client, uint64_t request_id, JobSpec job,
                   std::function<Status(const JobResult&, v1::Done&)> on_complete);
  void on_close(const ConnPtr& conn);
  bool is_admin(uint32_t uid) const;

  boost::asio::io_context& io_;
  const Config& config_;
  const runtime::Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  const chat::ChatFormat& chat_;
  store::SessionStore& store_;
  Scheduler& scheduler_;
  const char* kernel_set_;
  ipc::Server* server_ = nullptr;
  std::function<void(const std::string&)> shutdown_;
  std::string landlock_ = "off";
  // The exact token sequence (prompt + generated ids) of each session's last turn, for the
  // most recently used sessions: the next turn continues it token for token, so the KV of
  // the previous turn is reused even where re-tokenising the stored text would differ.
  struct SessionTokens {
    int64_t turns = 0;  // the session's turn count this sequence ends
    std::vector<int32_t> tokens;
    uint64_t last_used = 0;
  };
  std::vector<int32_t> continue_session(const std::string& session_id, int64_t turns,
                                        const std::string& user_text);
  void remember_session(const std::string& session_id, int64_t turns, std::vector<int32_t> tokens);
  std::map<std::string, SessionTokens> session_tokens_;
  uint64_t session_clock_ = 0;
  std::map<uint64_t, Client> clients_;  // by connection id
  uint64_t next_job_ = 1;
  size_t in_flight_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace gemmad::daemon
