// The HTTP transport on a real Unix socket: keep-alive, chunked streams, the size limits,
// the slowloris and connection limits, and a disconnect that cancels the request in flight.
#include "daemon/http/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "tests/common/temp_dir.h"

namespace gemmad::http {
namespace {

// A blocking client socket; reads fail after 20 s so a broken server fails the test instead
// of hanging it (a bound, not a timing assumption).
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  bool send(std::string_view s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until `needle` has arrived (true) or the peer closed (false).
  bool read_until(const std::string& needle) {
    while (got_.find(needle) == std::string::npos) {
      if (!read_some()) return false;
    }
    return true;
  }
  // Reads until EOF; true if the peer closed (rather than the read timing out).
  bool read_to_eof() {
    for (;;) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      got_.append(buf, static_cast<size_t>(n));
    }
  }
  const std::string& got() const { return got_; }
  void clear() { got_.clear(); }

 private:
  bool read_some() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    got_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpOptions options, HttpHandler handler) {
    path_ = dir_.file("http.sock");
    auto r =
        HttpServer::listen(io_, path_, options, std::move(handler), [this](std::string_view l) {
          std::lock_guard lock(mu_);
          log_ += std::string(l) + "\n";
        });
    ASSERT_TRUE(r.ok()) << r.error().message;
    server_ = std::move(r).value();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (!server_) return;
    std::promise<void> stopped;
    boost::asio::post(io_, [&] {
      server_->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    io_.stop();
    thread_.join();
    server_.reset();
  }
  std::string log() {
    std::lock_guard lock(mu_);
    return log_;
  }

  testing::TempDir dir_;
  std::string path_;
  boost::asio::io_context io_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::string log_;
};

HttpHandler echo_handler(std::atomic<int>& calls) {
  return [&calls](std::shared_ptr<HttpExchange> ex, HttpRequest req) {
    ++calls;
    ex->respond(200, "text/plain",
                req.method + " " + req.target + " app=" + req.app +
                    " uid=" + std::to_string(req.uid) + " body=" + req.body);
  };
}

TEST_F(HttpServerTest, AnswersRequestsOnAKeptAliveConnectionWithThePeerUid) {
  std::atomic<int> calls{0};
  start({}, echo_handler(calls));
  RawClient c(path_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /v1/models?x=1 HTTP/1.1\r\nHost: h\r\nX-Gemmad-App: editor\r\n\r\n"));
  const std::string first =
      "GET /v1/models app=editor uid=" + std::to_string(::getuid()) + " body=";
  ASSERT_TRUE(c.read_until(first)) << c.got();
  EXPECT_EQ(c.got().rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << c.got();
  c.clear();
  ASSERT_TRUE(c.send("POST /v1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
  ASSERT_TRUE(c.read_until("body=hello")) << c.got();
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(HttpServerTest, StreamsChunksThenClosesTheConnection) {
  start({}, [](std::shared_ptr<HttpExchange> ex, HttpRequest) {
    ex->start_stream("text/event-stream");
    ex->write("data: one\n\n");
    ex->write("data: [DONE]\n\n");
    ex->end();
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(c.read_to_eof());
  EXPECT_NE(c.got().find("Transfer-Encoding: chunked\r\n"), std::string::npos) << c.got();
  EXPECT_NE(c.got().find("\r\n\r\nb\r\ndata: one\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"),
            std::string::npos)
      << c.got();
}

TEST_F(HttpServerTest, ABodyDeclaredPastTheLimitGets413WithoutBeingRead) {
  std::atomic<int> calls{0};
  HttpOptions o;
  o.max_body_bytes = 4096;
  start(o, echo_handler(calls));
  RawClient c(path_);
  ASSERT_TRUE(
      c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
             "Content-Length: 104857600\r\n\r\n"));
  // Keep sending the body: the server answers from the header and closes, so the writes
  // fail long before 100 MB.
  const std::string block(64 << 10, 'x');
  size_t sent = 0;
  while (sent < (100u << 20) && c.send(block))
    sent += block.size();
  EXPECT_LT(sent, 100u << 20);
  c.read_to_eof();
  EXPECT_EQ(c.got().rfind("HTTP/1.1 413 ", 0), 0u) << c.got().substr(0, 200);
  EXPECT_NE(c.got().find("http.max_body_bytes (4096 bytes)"), std::string::npos);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, AChunkedBodyPastTheLimitGets413) {
  std::atomic<int> calls{0};
  HttpOptions o;
  o.max_body_bytes = 1024;
  start(o, echo_handler(calls));
  RawClient c(path_);
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                     std::string(2048, 'y') + "\r\n0\r\n\r\n"));
  c.read_to_eof();
  EXPECT_EQ(c.got().rfind("HTTP/1.1 413 ", 0), 0u) << c.got();
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, AHeaderPastTheLimitGets431AndGarbageGets400) {
  std::atomic<int> calls{0};
  HttpOptions o;
  o.max_header_bytes = 2048;
  start(o, echo_handler(calls));
  RawClient big(path_);
  ASSERT_TRUE(big.send("GET / HTTP/1.1\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
  big.read_to_eof();
  EXPECT_EQ(big.got().rfind("HTTP/1.1 431 ", 0), 0u) << big.got();
  RawClient garbage(path_);
  ASSERT_TRUE(garbage.send("NOT HTTP AT ALL\r\n\r\n"));
  garbage.read_to_eof();
  EXPECT_EQ(garbage.got().rfind("HTTP/1.1 400 ", 0), 0u) << garbage.got();
  EXPECT_NE(garbage.got().find("\"error\""), std::string::npos);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, ASlowlorisHeaderIsDroppedAtTheHeaderTimeout) {
  std::atomic<int> calls{0};
  HttpOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  start(o, echo_handler(calls));
  RawClient c(path_);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: a"));  // never finished
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.read_to_eof());  // the server closes; the 20 s receive bound is not reached
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
  EXPECT_NE(log().find("header timeout (300 ms)"), std::string::npos) << log();
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, AConnectionPastTheLimitGets503) {
  std::atomic<int> calls{0};
  HttpOptions o;
  o.max_connections = 1;
  start(o, echo_handler(calls));
  RawClient first(path_);
  ASSERT_TRUE(first.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(first.read_until("body="));  // counted and served
  RawClient second(path_);
  second.read_to_eof();
  EXPECT_EQ(second.got().rfind("HTTP/1.1 503 ", 0), 0u) << second.got();
  EXPECT_NE(second.got().find("http.max_connections"), std::string::npos);
}

TEST_F(HttpServerTest, APeerThatLeavesMidStreamCancelsItsRequest) {
  std::promise<void> cancelled;
  std::shared_ptr<HttpExchange> held;
  start({}, [&](std::shared_ptr<HttpExchange> ex, HttpRequest) {
    held = ex;  // the "generation" never ends by itself
    ex->set_on_cancel([&cancelled] { cancelled.set_value(); });
    ex->start_stream("text/event-stream");
    ex->write("data: first\n\n");
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(c.read_until("data: first"));
  c.close();
  EXPECT_EQ(cancelled.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  std::promise<void> released;  // `held` lives on this stack: release it before returning
  boost::asio::post(io_, [&] {
    held.reset();
    released.set_value();
  });
  released.get_future().wait();
}

TEST_F(HttpServerTest, AStreamPastItsQueueLimitIsAskedToPause) {
  std::promise<bool> first_write;
  HttpOptions o;
  o.stream_queue_bytes = 4096;
  start(o, [&](std::shared_ptr<HttpExchange> ex, HttpRequest) {
    ex->start_stream("text/plain");
    first_write.set_value(ex->write(std::string(8192, 'z')));
    ex->end();
  });
  RawClient c(path_);
  ASSERT_TRUE(c.send("POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(first_write.get_future().get());
  ASSERT_TRUE(c.read_to_eof());
  EXPECT_NE(c.got().find(std::string(8192, 'z')), std::string::npos);
}

TEST(HttpOptions, OutOfRangeValuesAreNamed) {
  HttpOptions o;
  o.max_connections = 0;
  Status s = validate_http_options(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("http.max_connections is 0"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::http
