// The HTTP/1.1 transport on a Unix socket (see http_server.h).
#include "daemon/http/http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <set>
#include <vector>

#include "daemon/http/openai_response.h"
#include "ipc/listen_socket.h"

namespace gemmad::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Socket = asio::local::stream_protocol::socket;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

namespace {

void rethrow_if_failed(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

std::string status_line(int status) {
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

std::string full_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive) {
  std::string out = status_line(status);
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

std::string error_response(int status, const std::string& code, const std::string& message) {
  return full_response(status, "application/json", error_body(api_error(status, code, message)),
                       /*keep_alive=*/false);
}

std::string chunk(std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out(size, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
  return out;
}

}  // namespace

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  Core(asio::io_context& io_context, HttpOptions o, HttpHandler h,
       std::function<void(std::string_view)> l)
      : io(io_context),
        options(o),
        handler(std::move(h)),
        log_fn(std::move(l)),
        acceptor(io_context) {}

  void log(std::string_view line) const {
    if (log_fn) log_fn(line);
  }
  static asio::awaitable<void> accept_loop(std::shared_ptr<Core> core);

  asio::io_context& io;
  const HttpOptions options;
  HttpHandler handler;
  std::function<void(std::string_view)> log_fn;
  asio::local::stream_protocol::acceptor acceptor;
  ipc::SocketFile socket_file;
  std::set<std::shared_ptr<detail::Session>> sessions;  // io thread
  std::atomic<std::size_t> count{0};
  bool stopping = false;
};

namespace detail {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<HttpServer::Core> core, Socket socket)
      : core_(std::move(core)), socket_(std::move(socket)), deadline_(socket_.get_executor()) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      uid_ = cred.uid;
      gid_ = cred.gid;
      pid_ = cred.pid;
    }
  }

  static asio::awaitable<void> run(std::shared_ptr<Session> self);

  // io thread: take what the exchange queued and write it.
  void flush();
  // io thread: the peer left or the connection must go; cancels the request in flight.
  void close();
  // io thread: close once the current answer is written (server stop).
  void close_when_idle() {
    if (!current_ || done_) {
      close();
    } else {
      close_after_answer_ = true;
    }
  }
  asio::any_io_executor executor() { return socket_.get_executor(); }
  // A connection past http.max_connections: told why, then closed (never counted).
  static asio::awaitable<void> refuse(std::shared_ptr<Session> self, std::size_t max) {
    co_await self->write_and_close(error_response(
        503, "too_many_connections",
        "gemmad has " + std::to_string(max) + " HTTP connections open (http.max_connections)"));
  }

 private:
  void arm(std::chrono::milliseconds after, const char* what);
  void disarm() { deadline_.cancel(); }
  asio::awaitable<void> write_and_close(std::string bytes);
  asio::awaitable<void> serve_one();
  void answer_written();

  std::shared_ptr<HttpServer::Core> core_;
  Socket socket_;
  asio::steady_timer deadline_;
  boost::beast::flat_buffer buffer_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = 0;
  bool closed_ = false;
  std::shared_ptr<HttpExchange> current_;
  bool done_ = false;  // the current answer is fully written
  bool writing_ = false;
  bool close_after_answer_ = false;
  bool keep_open_ = false;        // serve_one's verdict
  std::vector<std::string> out_;  // being written
  std::size_t out_bytes_ = 0;
};

void Session::arm(std::chrono::milliseconds after, const char* what) {
  deadline_.expires_after(after);
  deadline_.async_wait([weak = weak_from_this(), what, after](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->closed_) return;
    self->core_->log("http: connection of pid " + std::to_string(self->pid_) + " dropped: " + what +
                     " timeout (" + std::to_string(after.count()) + " ms)");
    self->close();
  });
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  deadline_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (current_ && !done_) {
    current_->cancelled_ = true;
    std::function<void()> on_cancel;
    {
      std::lock_guard lock(current_->mu_);
      on_cancel = std::move(current_->on_cancel_);
    }
    if (on_cancel) on_cancel();
  }
  auto core = core_;
  auto self = shared_from_this();
  asio::post(socket_.get_executor(), [core, self] {
    if (core->sessions.erase(self)) --core->count;
  });
}

asio::awaitable<void> Session::write_and_close(std::string bytes) {
  arm(core_->options.idle_timeout, "write");
  co_await asio::async_write(socket_, asio::buffer(bytes), kTuple);
  close();
}

void Session::flush() {
  if (writing_ || closed_ || !current_) return;
  HttpExchange& ex = *current_;
  bool last = false;
  {
    std::lock_guard lock(ex.mu_);
    ex.flush_posted_ = false;
    out_.clear();
    out_bytes_ = 0;
    while (!ex.pending_.empty()) {
      out_bytes_ += ex.pending_.front().size();
      out_.push_back(std::move(ex.pending_.front()));
      ex.pending_.pop_front();
    }
    last = ex.ended_;
  }
  if (out_.empty()) {
    if (last) answer_written();
    return;
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(out_.size());
  for (const std::string& s : out_)
    buffers.emplace_back(asio::buffer(s));
  writing_ = true;
  asio::async_write(socket_, buffers,
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec || self->closed_) {
                        self->close();
                        return;
                      }
                      HttpExchange& e = *self->current_;
                      std::function<void()> on_writable;
                      bool more = false, last_done = false;
                      {
                        std::lock_guard lock(e.mu_);
                        e.queued_bytes_ -= self->out_bytes_;
                        if (e.want_writable_ && e.queued_bytes_ <= e.queue_limit_ / 2) {
                          e.want_writable_ = false;
                          on_writable = e.on_writable_;
                        }
                        more = !e.pending_.empty();
                        last_done = !more && e.ended_;
                      }
                      self->out_.clear();
                      if (on_writable) on_writable();
                      if (more) {
                        self->flush();
                      } else if (last_done) {
                        self->answer_written();
                      }
                    });
}

void Session::answer_written() {
  if (done_) return;
  done_ = true;
  // Ends the disconnect watch of serve_one (no write is pending now).
  boost::system::error_code ignored;
  socket_.cancel(ignored);
}

// Reads one request and answers it; keep_open_ says whether the connection stays open.
asio::awaitable<void> Session::serve_one() {
  keep_open_ = false;
  const HttpOptions& o = core_->options;
  if (buffer_.size() == 0) {
    arm(o.idle_timeout, "idle");
    auto [ec] = co_await socket_.async_wait(Socket::wait_read, kTuple);
    if (ec || closed_) co_return;
  }
  const auto body_too_large = [&o] {
    return error_response(413, "body_too_large",
                          "request body is larger than http.max_body_bytes (" +
                              std::to_string(o.max_body_bytes) + " bytes)");
  };
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
  parser.body_limit(o.max_body_bytes);
  arm(o.header_timeout, "header");
  auto [hec, hn] = co_await bhttp::async_read_header(socket_, buffer_, parser, kTuple);
  if (closed_) co_return;
  if (hec) {
    if (hec == bhttp::error::body_limit) {
      // Beast checks Content-Length against the limit with the header: the body is never read.
      co_await write_and_close(body_too_large());
    } else if (hec == bhttp::error::header_limit) {
      co_await write_and_close(
          error_response(431, "header_too_large",
                         "request header is larger than http.max_header_bytes (" +
                             std::to_string(o.max_header_bytes) + " bytes)"));
    } else if (hec != bhttp::error::end_of_stream && hec != asio::error::eof &&
               hec != asio::error::operation_aborted && hec != asio::error::connection_reset) {
      co_await write_and_close(
          error_response(400, "bad_http", "malformed HTTP request: " + hec.message()));
    }
    co_return;
  }
  auto& req_header = parser.get();
  if (!parser.is_done()) {
    const auto expect = req_header[bhttp::field::expect];
    if (boost::beast::iequals(expect, "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      arm(o.idle_timeout, "write");
      auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(kContinue), kTuple);
      if (wec || closed_) co_return;
    }
    arm(o.idle_timeout, "body");
    auto [bec, bn] = co_await bhttp::async_read(socket_, buffer_, parser, kTuple);
    if (closed_) co_return;
    if (bec == bhttp::error::body_limit) {
      co_await write_and_close(body_too_large());
      co_return;
    }
    if (bec) {
      if (bec != bhttp::error::end_of_stream && bec != asio::error::eof &&
          bec != asio::error::operation_aborted) {
        co_await write_and_close(
            error_response(400, "bad_http", "malformed HTTP request body: " + bec.message()));
      }
      co_return;
    }
  }
  disarm();
  auto req = parser.release();
  HttpRequest request;
  request.method = std::string(req.method_string());
  std::string target(req.target());
  request.target = target.substr(0, target.find('?'));
  request.app = std::string(req["X-Gemmad-App"]);
  request.uid = uid_;
  request.gid = gid_;
  request.pid = pid_;
  request.body = std::move(req.body());
  const bool keep_alive = req.keep_alive();

  current_ = std::make_shared<HttpExchange>(weak_from_this(), o.stream_queue_bytes, keep_alive);
  done_ = false;
  bool streamed = false;
  try {
    core_->handler(current_, std::move(request));
  } catch (const std::exception& e) {
    current_->respond(
        500, "application/json",
        error_body(api_error(500, "internal", std::string("internal error: ") + e.what())));
  }
  // Until the answer is written, a read that ends means the peer left: cancel the request.
  // Bytes that arrive meanwhile (a pipelined request) are kept for the next round.
  while (!done_ && !closed_) {
    if (buffer_.size() > o.max_header_bytes + o.max_body_bytes) {
      close();
      co_return;
    }
    auto [rec, rn] = co_await socket_.async_read_some(buffer_.prepare(4096), kTuple);
    if (!rec) {
      buffer_.commit(rn);
      continue;
    }
    if (rec == asio::error::operation_aborted && done_) break;
    close();  // EOF or reset: the peer is gone
    co_return;
  }
  {
    std::lock_guard lock(current_->mu_);
    streamed = current_->streaming_;
  }
  current_.reset();
  if (closed_) co_return;
  if (streamed || !keep_alive || close_after_answer_ || core_->stopping) {
    close();
    co_return;
  }
  keep_open_ = true;
}

asio::awaitable<void> Session::run(std::shared_ptr<Session> self) {
  // Not `while (co_await ...)`: GCC 12 miscompiles a co_await of awaitable<bool> there.
  do {
    co_await self->serve_one();
  } while (self->keep_open_);
  self->close();
}

}  // namespace detail

HttpExchange::HttpExchange(std::weak_ptr<detail::Session> session, std::size_t queue_limit,
                           bool keep_alive)
    : session_(std::move(session)), queue_limit_(queue_limit), keep_alive_(keep_alive) {}

void HttpExchange::enqueue(std::string bytes, bool last) {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    queued_bytes_ += bytes.size();
    if (!bytes.empty()) pending_.push_back(std::move(bytes));
    ended_ = last;
    if (queued_bytes_ > queue_limit_) want_writable_ = true;
    if (!flush_posted_) {
      flush_posted_ = true;
      post = true;
    }
  }
  if (!post) return;
  auto session = session_.lock();
  if (!session) return;
  asio::post(session->executor(), [session] { session->flush(); });
}

void HttpExchange::respond(int status, std::string_view content_type, std::string body) {
  {
    std::lock_guard lock(mu_);
    if (answered_) return;
    answered_ = true;
  }
  enqueue(full_response(status, content_type, body, keep_alive_), /*last=*/true);
}

void HttpExchange::start_stream(std::string_view content_type) {
  {
    std::lock_guard lock(mu_);
    if (answered_) return;
    answered_ = true;
    streaming_ = true;
  }
  std::string head = status_line(200);
  head += "Content-Type: ";
  head += content_type;
  head += "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  enqueue(std::move(head), false);
}

bool HttpExchange::write(std::string data) {
  {
    std::lock_guard lock(mu_);
    if (!streaming_ || ended_) return false;
  }
  if (data.empty()) return writable();
  enqueue(chunk(data), false);
  return writable();
}

bool HttpExchange::writable() const {
  std::lock_guard lock(mu_);
  return !want_writable_;
}

void HttpExchange::end() {
  {
    std::lock_guard lock(mu_);
    if (!streaming_) return;
  }
  enqueue("0\r\n\r\n", true);
}

void HttpExchange::set_on_cancel(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_cancel_ = std::move(fn);
}

void HttpExchange::set_on_writable(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_writable_ = std::move(fn);
}

asio::awaitable<void> HttpServer::Core::accept_loop(std::shared_ptr<Core> core) {
  for (;;) {
    auto [ec, socket] = co_await core->acceptor.async_accept(kTuple);
    if (core->stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      core->log("http: accept: " + ec.message());
      continue;
    }
    auto session = std::make_shared<detail::Session>(core, std::move(socket));
    if (core->count >= core->options.max_connections) {
      asio::co_spawn(core->io, detail::Session::refuse(session, core->options.max_connections),
                     rethrow_if_failed);
      continue;
    }
    ++core->count;
    core->sessions.insert(session);
    asio::co_spawn(core->io, detail::Session::run(session), rethrow_if_failed);
  }
}

HttpServer::HttpServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

HttpServer::~HttpServer() {
  stop();
  // Core holds its sessions and each session holds Core: once the io_context no longer runs
  // (the owner destroys the server after io.run() has returned), nothing would erase them, so
  // the cycle is broken here; their pending handlers die with the io_context.
  core_->sessions.clear();
}

Result<std::unique_ptr<HttpServer>> HttpServer::listen(asio::io_context& io,
                                                       const std::string& socket_path,
                                                       HttpOptions options, HttpHandler handler,
                                                       std::function<void(std::string_view)> log) {
  GEMMAD_TRY(validate_http_options(options));
  GEMMAD_ASSIGN_OR_RETURN(
      ipc::ListeningSocket listening,
      ipc::listen_unix_socket(socket_path, options.socket_mode, options.backlog));
  auto core = std::make_shared<Core>(io, options, std::move(handler), std::move(log));
  boost::system::error_code ec;
  core->acceptor.assign(asio::local::stream_protocol(), listening.fd, ec);
  if (ec) {
    ::close(listening.fd);
    ipc::remove_socket_file(listening.file);
    return make_error(ErrorCode::kIo, "http listener " + socket_path + ": " + ec.message());
  }
  core->socket_file = listening.file;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

Result<std::unique_ptr<HttpServer>> HttpServer::adopt(asio::io_context& io, int listening_fd,
                                                      HttpOptions options, HttpHandler handler,
                                                      std::function<void(std::string_view)> log) {
  GEMMAD_TRY(validate_http_options(options));
  GEMMAD_TRY(ipc::check_listening_unix_socket(listening_fd));
  auto core = std::make_shared<Core>(io, options, std::move(handler), std::move(log));
  boost::system::error_code ec;
  core->acceptor.assign(asio::local::stream_protocol(), listening_fd, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "adopting http listener fd " + std::to_string(listening_fd) +
                                          ": " + ec.message());
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core)));
}

void HttpServer::start() {
  asio::co_spawn(core_->io, Core::accept_loop(core_), rethrow_if_failed);
}

void HttpServer::stop() {
  if (core_->stopping) return;
  core_->stopping = true;
  boost::system::error_code ignored;
  core_->acceptor.close(ignored);
  ipc::remove_socket_file(core_->socket_file);
  const auto sessions = core_->sessions;
  for (const auto& s : sessions)
    s->close_when_idle();
}

std::size_t HttpServer::connection_count() const {
  return core_->count.load();
}

Status validate_http_options(const HttpOptions& o) {
  auto range = [](const char* name, std::size_t v, std::size_t lo, std::size_t hi) -> Status {
    if (v < lo || v > hi) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(name) + " is " + std::to_string(v) + "; it must be in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return {};
  };
  GEMMAD_TRY(range("http.max_connections", o.max_connections, 1, 1u << 16));
  GEMMAD_TRY(range("http.max_header_bytes", o.max_header_bytes, 1024, 1u << 20));
  GEMMAD_TRY(range("http.max_body_bytes", o.max_body_bytes, 1024, 1u << 30));
  GEMMAD_TRY(range("http.stream_queue_bytes", o.stream_queue_bytes, 4096, 1u << 30));
  return {};
}

}  // namespace gemmad::http
