// Test fixtures for the ipc transport: a temporary directory, a raw socket peer that writes
// arbitrary bytes and reads frames, and a Server plus FakeDaemon on a background io thread.
#pragma once

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fake_daemon.h"
#include "ipc/frame_codec.h"
#include "ipc/protocol.h"
#include "ipc/server.h"

namespace gemmad::ipc::testing {

// mkdtemp under /tmp (short, so socket paths fit sun_path); removed with its contents.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/gemmad-ipc-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A blocking AF_UNIX peer that does exactly what the test says, byte by byte.
class RawPeer {
 public:
  static std::optional<RawPeer> connect(const std::string& path) {
    RawPeer peer;
    peer.fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    if (peer.fd_ < 0 ||
        ::connect(peer.fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      return std::nullopt;
    }
    return peer;
  }
  RawPeer() = default;
  RawPeer(RawPeer&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), decoder_(std::move(other.decoder_)) {}
  RawPeer& operator=(RawPeer&&) = delete;
  ~RawPeer() { close(); }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

  bool write_bytes(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool write_message(const v1::ClientMessage& message) {
    auto frame = encode_message_frame(message);
    return frame.ok() && write_bytes(*frame);
  }
  bool send_hello(std::uint64_t request_id = 1) {
    v1::ClientMessage hello;
    hello.set_request_id(request_id);
    hello.mutable_hello()->set_app_name("raw-test");
    hello.mutable_hello()->set_protocol_version(kProtocolVersion);
    return write_message(hello);
  }

  enum class ReadOutcome { kMessage, kEof, kTimeout, kBad };
  // The next ServerMessage, EOF, or timeout.
  ReadOutcome read(v1::ServerMessage& out,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto frame = decoder_.next_frame()) {
        auto parsed = parse_server_message(*frame);
        if (!parsed.ok()) return ReadOutcome::kBad;
        out = std::move(parsed).value();
        return ReadOutcome::kMessage;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ReadOutcome::kTimeout;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[16384];
      const ssize_t n = ::read(fd_, buffer, sizeof(buffer));
      if (n == 0) return ReadOutcome::kEof;
      if (n < 0) return errno == ECONNRESET ? ReadOutcome::kEof : ReadOutcome::kBad;
      if (!decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n))).ok()) {
        return ReadOutcome::kBad;
      }
    }
  }

 private:
  int fd_ = -1;
  FrameDecoder decoder_;
};

// A Server on a socket in a TempDir, handled by a FakeDaemon, its io_context run by one
// background thread. `customize` may replace handlers before the server starts.
class TestServer {
 public:
  explicit TestServer(ServerOptions options = {},
                      const std::function<void(ServerHandlers&)>& customize = {})
      : work_(boost::asio::make_work_guard(io_)) {
    path_ = dir_.file("gemmad.sock");
    ServerHandlers handlers = fake_.handlers([this] { return server_->connection_count(); });
    if (customize) customize(handlers);
    auto server = Server::listen(io_, path_, options, std::move(handlers));
    if (!server.ok()) {
      error_ = server.error().message;
      return;
    }
    server_ = std::move(server).value();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  const TempDir& dir() const { return dir_; }
  Server& server() { return *server_; }
  FakeDaemon& fake() { return fake_; }

 private:
  TempDir dir_;
  std::string path_;
  std::string error_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  // Declared after io_: producers hold Connections, which must die before the io_context.
  FakeDaemon fake_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace gemmad::ipc::testing
