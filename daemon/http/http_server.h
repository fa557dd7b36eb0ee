// The HTTP/1.1 transport of the OpenAI-compatible front-end: Boost.Beast request parsing on a
// Unix stream socket (never TCP), with the limits of docs/ARCHITECTURE.md "HTTP front-end":
// connections, header and body bytes, header (slowloris) and idle timeouts. Each request is
// handed to the handler as an HttpExchange that answers once or streams chunks; a peer that
// disconnects while its request runs cancels it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gemmad::http {

struct HttpOptions {
  std::size_t max_connections = 64;  // one more gets a 503 error object and is closed
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_body_bytes = 4u << 20;
  std::chrono::milliseconds header_timeout{10'000};  // first byte to end of header
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive idle; a stalled body
  std::size_t stream_queue_bytes = 256u << 10;       // a stream past this is asked to pause
  mode_t socket_mode = 0660;
  int backlog = 64;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path without the query string
  std::string body;
  std::string app;  // X-Gemmad-App, "" when absent
  uid_t uid = 0;    // SO_PEERCRED of the connection
  gid_t gid = 0;
  pid_t pid = 0;
};

namespace detail {
class Session;
}

// One request in flight. Shared by the transport and the handler; every method may be called
// from any thread. Exactly one of respond() or start_stream() ... end() should be called; a
// second answer is ignored. Writes after the peer left are dropped.
class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  // A complete response with Content-Length.
  void respond(int status, std::string_view content_type, std::string body);
  // A chunked response (for Server-Sent Events: text/event-stream). The connection is closed
  // after the stream ends, so a disconnect is always the peer's.
  void start_stream(std::string_view content_type);
  // One chunk; false when the queue is past stream_queue_bytes (pause until on_writable).
  bool write(std::string data);
  bool writable() const;
  void end();

  // Called once on the io thread if the peer disconnects before the answer was written.
  void set_on_cancel(std::function<void()> fn);
  // Called on the io thread when a paused stream's queue drained below half its limit.
  void set_on_writable(std::function<void()> fn);
  bool cancelled() const { return cancelled_.load(); }

  HttpExchange(std::weak_ptr<detail::Session> session, std::size_t queue_limit, bool keep_alive);

 private:
  friend class detail::Session;
  void enqueue(std::string bytes, bool last);

  std::weak_ptr<detail::Session> session_;
  const std::size_t queue_limit_;
  const bool keep_alive_;
  mutable std::mutex mu_;
  std::deque<std::string> pending_;                // guarded by mu_
  std::size_t queued_bytes_ = 0;                   // guarded by mu_: pending + being written
  bool answered_ = false;                          // guarded by mu_
  bool streaming_ = false;                         // guarded by mu_
  bool ended_ = false;                             // guarded by mu_: the last bytes are queued
  bool want_writable_ = false;                     // guarded by mu_
  bool flush_posted_ = false;                      // guarded by mu_
  std::function<void()> on_cancel_, on_writable_;  // guarded by mu_
  std::atomic<bool> cancelled_{false};
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange>, HttpRequest)>;

// Threads: run the io_context from one thread; create, start, stop and destroy there.
class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> listen(boost::asio::io_context& io,
                                                    const std::string& socket_path,
                                                    HttpOptions options, HttpHandler handler,
                                                    std::function<void(std::string_view)> log);
  // Takes an already-listening AF_UNIX stream socket (systemd socket activation); its file is
  // not removed at stop: it belongs to whoever created it.
  static Result<std::unique_ptr<HttpServer>> adopt(boost::asio::io_context& io, int listening_fd,
                                                   HttpOptions options, HttpHandler handler,
                                                   std::function<void(std::string_view)> log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  // Stops accepting, removes the socket file and closes every connection.
  void stop();
  std::size_t connection_count() const;

  struct Core;

 private:
  explicit HttpServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

Status validate_http_options(const HttpOptions& options);

}  // namespace gemmad::http
