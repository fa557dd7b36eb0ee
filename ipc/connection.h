// One accepted client connection of the gemmad server transport: peer identity, frame
// decoding, the Hello-first rule, and a bounded, thread-safe outgoing queue with backpressure.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ipc/frame_codec.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::ipc {

// The peer process, read with SO_PEERCRED right after accept (the kernel's record of who
// called connect(); it cannot be forged by the peer).
struct PeerCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// What Connection::send did with a message.
enum class SendStatus {
  kOk,        // queued; the queue is below its soft limit, keep sending
  kFull,      // queued, and the queue is now at its soft limit: pause this stream until the
              // server's on_writable handler is called for this connection
  kClosed,    // not sent: the connection is closing or closed. Also returned when this message
              // would pass the hard limit (a producer that ignored kFull): the connection is
              // then closed without flushing and on_close follows
  kTooLarge,  // not sent: the message does not fit one frame (max_frame_bytes). A final reply
              // (anything but Token) is replaced by Error TOO_LARGE for its request_id, so the
              // request still gets exactly one final reply; the connection is unaffected
};
const char* send_status_name(SendStatus status);

namespace detail {
struct ServerCore;
}

// Created by Server only. Shared ownership: the server holds it until it is closed; handlers
// may keep a shared_ptr (e.g. in an inference request) and send() after it closed (kClosed).
//
// Threads: send(), writable(), queued_*() and close() may be called from any thread. Every
// other member, and every handler call, happens on the thread running the io_context.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Unique per server, from 1.
  std::uint64_t id() const { return id_; }
  const PeerCredentials& peer() const { return peer_; }

  // Serializes `message` on the calling thread and appends it to the outgoing queue (see
  // SendStatus). Frames of one connection leave in the order send() returned.
  SendStatus send(const v1::ServerMessage& message);

  // False once the queue reached its soft limit (until it drains to half of it) or the
  // connection is closing.
  bool writable() const;
  std::size_t queued_bytes() const;
  std::size_t queued_frames() const;

  // Graceful close: stop delivering messages, flush what is queued (bounded by the server's
  // close_timeout), then close the socket and call on_close. Idempotent.
  void close();

  // True once close() was called, the peer went away, or the server is stopping.
  bool closing() const;

  // Requests delivered to the handler (Hello included) whose final reply (anything but a
  // Token) has not been sent yet. A connection with none is idle.
  std::size_t requests_in_flight() const;

 private:
  friend struct detail::ServerCore;
  struct Private {};

 public:
  Connection(Private, std::shared_ptr<detail::ServerCore> core, Socket socket, std::uint64_t id,
             PeerCredentials peer, bool counted);

 private:
  static boost::asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  static boost::asio::awaitable<void> write_loop(std::shared_ptr<Connection> self);

  // io thread only.
  void start(bool expect_hello);
  bool handle_frame(const std::string& payload);
  // The Hello rules the transport enforces itself (app name, protocol version); an Error
  // reply when the Hello is refused (the connection stays open for another).
  std::optional<v1::ServerMessage> check_hello(const v1::ClientMessage& message) const;
  // Periodic check of the idle, frame and write timeouts (ServerOptions).
  void arm_watch();
  void watch();
  void close_with(std::uint64_t request_id, v1::ErrorCode code, const std::string& message);
  void protocol_error(std::uint64_t request_id, const std::string& message);
  void begin_graceful_close();
  void finish_close();
  void drop_queue_locked();
  bool below_low_watermark_locked() const;

  std::weak_ptr<detail::ServerCore> core_;
  // Options copied from the server, immutable.
  std::uint32_t max_frame_bytes_;
  std::size_t soft_bytes_, soft_frames_, hard_bytes_, hard_frames_;

  Socket socket_;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer close_timer_;
  boost::asio::steady_timer watch_timer_;
  std::chrono::milliseconds idle_timeout_, frame_timeout_, write_timeout_, watch_every_;
  const std::uint64_t id_;
  const PeerCredentials peer_;
  // Counted against max_clients and visible to handlers; false for a connection accepted
  // only to be told BUSY.
  const bool counted_;

  // io thread only.
  FrameDecoder decoder_;
  bool hello_received_ = false;
  bool io_closed_ = false;
  std::chrono::steady_clock::time_point frame_started_{};

  // Shared with sending threads: steady_clock nanoseconds of the last request received or
  // final reply sent, and of the start of the write in progress (0 = none).
  std::atomic<std::int64_t> last_activity_ns_{0};
  std::atomic<std::int64_t> write_started_ns_{0};
  std::atomic<std::size_t> in_flight_{0};

  // Outgoing queue, shared with sending threads. Bytes and frames count frames being
  // written too, so the bound covers all memory held for the peer.
  mutable std::mutex mutex_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t queued_frames_ = 0;
  bool writing_ = false;        // a write_loop is running or posted
  bool closing_ = false;        // no more sends accepted
  bool want_writable_ = false;  // kFull was returned; call on_writable at the low watermark
};

}  // namespace gemmad::ipc
