// A scripted stand-in for gemmad's request handling, for transport and client tests: answers
// Hello, Status, sessions and tokenizer requests with canned data and streams Token frames
// from producer threads the way the daemon's inference thread will (pausing on kFull,
// resuming on on_writable, stopping on Cancel or close).
//
// Scripts, chosen by ChatRequest fields: sampling.max_tokens = number of tokens (default 3);
// user_text = text of each token; title "ignore-backpressure" keeps sending after kFull;
// title "wait-for-cancel" sends one token then waits for Cancel.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ipc/server.h"

namespace gemmad::ipc::testing {

class FakeDaemon {
 public:
  FakeDaemon() = default;
  ~FakeDaemon();  // cancels and joins every producer
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  // Handlers bound to this object; `clients_connected` fills StatusReply.clients_connected.
  ServerHandlers handlers(std::function<std::size_t()> clients_connected = {});

  // What the handlers saw; read under lock(), or wait with wait_until().
  struct Observed {
    int opened = 0;
    int closed = 0;
    int hellos = 0;
    int writable_calls = 0;
    int full_reports = 0;                // kFull returned to a producer
    int closed_reports = 0;              // kClosed returned to a producer
    std::uint32_t tokens_queued = 0;     // Token frames send() accepted (kOk or kFull)
    std::size_t max_queued_bytes = 0;    // largest queued_bytes() a producer saw after send
    std::vector<PeerCredentials> peers;  // at each Hello
    std::vector<std::string> app_names;
    std::vector<std::uint64_t> cancel_targets;
    std::vector<std::string> log;
    std::weak_ptr<Connection> last_opened;
  };

  // Waits until `predicate(observed)` holds (checked at every event), at most `timeout`.
  bool wait_until(const std::function<bool(const Observed&)>& predicate,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));
  Observed snapshot();

 private:
  struct Stream {
    std::shared_ptr<Connection> conn;
    std::uint64_t request_id = 0;
    std::uint32_t tokens = 3;
    std::string text;
    bool ignore_backpressure = false;
    bool wait_for_cancel = false;
    // Guarded by FakeDaemon::mutex_.
    bool paused = false;
    bool cancelled = false;
    bool conn_closed = false;
  };

  void on_message(const std::shared_ptr<Connection>& conn, v1::ClientMessage message);
  void start_stream(const std::shared_ptr<Connection>& conn, const v1::ClientMessage& message);
  void produce(std::shared_ptr<Stream> stream);
  void notify_locked() { changed_.notify_all(); }

  std::function<std::size_t()> clients_connected_;
  std::mutex mutex_;
  std::condition_variable changed_;
  Observed observed_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<Stream>> streams_;
  std::vector<std::thread> producers_;
  bool shutting_down_ = false;
};

}  // namespace gemmad::ipc::testing
