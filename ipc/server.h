// The gemmad server transport: accepts clients on a Unix stream socket (created, or adopted
// from systemd socket activation), enforces the frame and handshake rules of
// ipc/proto/gemmad.proto, and hands each ClientMessage to the daemon's handler.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ipc/connection.h"
#include "ipc/frame_codec.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::ipc {

struct ServerOptions {
  // Largest frame payload accepted or sent; [1 KiB, 1 GiB].
  std::uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  // At this many connections a new one is admitted only by closing an idle connection of the
  // uid that holds the most (when that uid holds more than the newcomer's); otherwise the new
  // one gets Error BUSY (request_id 0) and is closed. >= 1.
  std::size_t max_clients = 64;
  // Connections one uid may hold; the next gets Error BUSY. >= 1 (above max_clients it adds
  // no bound of its own).
  std::size_t max_clients_per_uid = 32;
  // Outgoing queue per connection. At the soft limit send() returns kFull (pause the stream);
  // past the hard limit the connection is closed. Hard must leave room for one full frame
  // above the soft limit (hard_bytes >= soft_bytes + max_frame_bytes + 4), so a producer that
  // pauses on kFull never hits it.
  std::size_t send_queue_soft_bytes = 1u << 20;
  std::size_t send_queue_soft_frames = 1024;
  std::size_t send_queue_hard_bytes = 16u << 20;
  std::size_t send_queue_hard_frames = 16384;
  // SO_SNDBUF of accepted sockets in bytes; 0 = the system default. Smaller makes a slow
  // reader's backpressure reach the queue (and the producer) sooner.
  int socket_send_buffer_bytes = 0;
  // A connection that has not sent Hello by then gets Error PROTOCOL and is closed; 0 = never.
  std::chrono::milliseconds handshake_timeout{10'000};
  // After Hello, a connection with no request in flight for this long is closed (Error
  // CANCELLED, request_id 0); 0 = never.
  std::chrono::milliseconds idle_timeout{300'000};
  // A frame whose first byte arrived must be complete within this (a peer dribbling one byte
  // at a time holds a connection and a buffer); Error PROTOCOL and close. 0 = never.
  std::chrono::milliseconds frame_timeout{10'000};
  // A write the peer does not take (it stopped reading) for this long closes the connection
  // without flushing. 0 = never.
  std::chrono::milliseconds write_timeout{30'000};
  // How long a closing connection may take to flush its queue before the socket is closed
  // anyway (a peer that stopped reading).
  std::chrono::milliseconds close_timeout{2'000};
  // Refuse (Error PERMISSION_DENIED, request_id 0, then close) a peer whose uid or gid is the
  // kernel's overflow id: in a user namespace that does not map callers, every one of them
  // reads as that id and per-uid isolation would merge them (ipc/peer_identity.h).
  bool refuse_overflow_ids = true;
  // listen(): permission bits of the socket file, and the accept backlog.
  mode_t socket_mode = 0660;
  int backlog = 64;
};

// The daemon's callbacks, all invoked on the io_context thread. on_message is required; the
// others may be empty. A handler that throws gets the exception turned into an Error INTERNAL
// reply for that request (the connection survives).
struct ServerHandlers {
  // Every ClientMessage of a connection in order, the first one always a Hello (the server
  // enforces it). The handler answers with conn->send(); the server never replies for it.
  std::function<void(const std::shared_ptr<Connection>&, v1::ClientMessage)> on_message;
  // A connection was accepted and counted (before its Hello arrives).
  std::function<void(const std::shared_ptr<Connection>&)> on_open;
  // The connection is closed (peer left, protocol error, close(), overflow, stop): cancel its
  // requests. Called exactly once per on_open; no on_message follows.
  std::function<void(const std::shared_ptr<Connection>&)> on_close;
  // The outgoing queue of a connection whose send() returned kFull drained to half the soft
  // limit: resume its paused streams.
  std::function<void(const std::shared_ptr<Connection>&)> on_writable;
  // Transport events worth a log line (protocol errors, accept failures); never contains
  // message content.
  std::function<void(std::string_view)> log;
};

// Threads: run the io_context from exactly one thread. stop() and connection_count() may be
// called from any thread; create, start and destroy the Server on the io thread or while the
// io_context is not running, and destroy it before the io_context.
class Server {
 public:
  // Binds and listens on `socket_path` (see listen_unix_socket for the stale-socket rule).
  static Result<std::unique_ptr<Server>> listen(boost::asio::io_context& io,
                                                const std::string& socket_path,
                                                ServerOptions options, ServerHandlers handlers);
  // Takes ownership of an already-listening AF_UNIX stream socket (systemd LISTEN_FDS).
  // The socket file is not removed at stop: it belongs to whoever created it.
  static Result<std::unique_ptr<Server>> adopt(boost::asio::io_context& io, int listening_fd,
                                               ServerOptions options, ServerHandlers handlers);

  // Closes the listener and every connection at once, without calling handlers.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Begins accepting (call once).
  void start();

  // Graceful stop, from any thread: stop accepting, remove the socket file we created, close
  // every connection gracefully (queued frames are flushed, bounded by close_timeout; on_close
  // for each), then call `on_stopped` (may be empty) on the io thread.
  void stop(std::function<void()> on_stopped = {});

  // Open connections counted against max_clients.
  std::size_t connection_count() const;
  const ServerOptions& options() const;

 private:
  explicit Server(std::shared_ptr<detail::ServerCore> core);
  std::shared_ptr<detail::ServerCore> core_;
};

// Validates option ranges; error kInvalidArgument naming the option, its value and the range.
Status validate_server_options(const ServerOptions& options);

}  // namespace gemmad::ipc
