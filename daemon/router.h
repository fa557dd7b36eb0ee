// The protobuf front-end: translates each ClientMessage of a connection into TurnService
// calls (chat, generate, cancel), store queries (sessions) and model queries, and every
// outcome into exactly one reply stream. It knows no generation rules: those live in the
// turn service (turn_service.h) shared with the HTTP front-end. One error boundary per
// request (CONTRIBUTING.md "Errors"): whatever a handler returns or throws becomes an Error frame
// for that request, and the connection and the daemon stay up.
//
// Threads: every method runs on the io thread, except the TurnStream's on_token/writable
// (inference thread), which only send frames (Connection::send is thread-safe).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "daemon/config.h"
#include "daemon/kv_store.h"
#include "daemon/model_registry.h"
#include "daemon/turn_service.h"
#include "ipc/server.h"
#include "store/session_store.h"

namespace gemmad::daemon {

class Router {
 public:
  Router(const Config& config, ModelRegistry& models, TurnService& turns,
         store::SessionStore& store, const char* kernel_set);

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
  // Saved KV files go with their session (`session rm`); null = saving off.
  void set_kv_store(KvStore* kv) { kv_store_ = kv; }

 private:
  struct Client {
    bool hello = false;
    uint32_t uid = 0;
    uint32_t gid = 0;
    int32_t pid = 0;
    std::string app_name;
    store::AppId app;
    bool app_known = false;  // false: the store could not register it at Hello (disk full)
    std::map<uint64_t, TurnHandle> turns;  // request_id -> turn
  };
  using ConnPtr = std::shared_ptr<ipc::Connection>;

  void on_message(const ConnPtr& conn, v1::ClientMessage msg);
  Status dispatch(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_hello(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_turn(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_sessions(const ConnPtr& conn, Client& client, const v1::ClientMessage& msg);
  Status on_status(const ConnPtr& conn, const v1::ClientMessage& msg);
  Status on_list_models(const ConnPtr& conn, const v1::ClientMessage& msg);
  Status on_tokenizer(const ConnPtr& conn, const v1::ClientMessage& msg);
  Status on_shutdown(const ConnPtr& conn, const Client& client, const v1::ClientMessage& msg);
  void on_close(const ConnPtr& conn);
  bool is_admin(uint32_t uid) const;

  const Config& config_;
  ModelRegistry& models_;
  TurnService& turns_;
  store::SessionStore& store_;
  const char* kernel_set_;
  ipc::Server* server_ = nullptr;
  std::function<void(const std::string&)> shutdown_;
  std::string landlock_ = "off";
  KvStore* kv_store_ = nullptr;
  std::map<uint64_t, Client> clients_;  // by connection id
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace gemmad::daemon
