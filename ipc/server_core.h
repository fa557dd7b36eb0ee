// Internal to ipc/: the state a Server shares with its accept loop and connections. A
// separate object so that connections and the accept coroutine can outlive the Server handle
// safely (they hold weak or shared references to it, never to Server).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "ipc/connection.h"
#include "ipc/listen_socket.h"
#include "ipc/peer_identity.h"
#include "ipc/server.h"

namespace gemmad::ipc::detail {

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(boost::asio::io_context& io_context, ServerOptions server_options,
             ServerHandlers server_handlers);

  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<ServerCore> core);

  // All io thread only.
  void accepted(Connection::Socket socket);
  // Admission at accept: "" when `peer` may connect (closing one idle connection of the uid
  // holding the most when the server is full), else why not (for the BUSY reply).
  std::string make_room_for(const PeerCredentials& peer);
  // Tells a connection that is not admitted why (Error `code`, request_id 0) and closes it.
  void refuse(Connection::Socket socket, std::uint64_t id, const PeerCredentials& peer,
              v1::ErrorCode code, std::string message);
  void connection_closed(const std::shared_ptr<Connection>& conn);
  void deliver_message(const std::shared_ptr<Connection>& conn, v1::ClientMessage message);
  void deliver_writable(const std::shared_ptr<Connection>& conn);
  void log(std::string_view message) const;
  void begin_stop(std::function<void()> on_stopped_callback);
  void maybe_finish_stop();
  void shutdown_now();

  boost::asio::io_context& io;
  const ServerOptions options;
  ServerHandlers handlers;
  boost::asio::local::stream_protocol::acceptor acceptor;
  boost::asio::steady_timer accept_retry_timer;
  const OverflowIds overflow_ids;  // read once at start (ipc/peer_identity.h)
  SocketFile socket_file;          // empty path when the listener was adopted

  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;
  std::atomic<std::size_t> counted{0};
  std::uint64_t next_id = 1;
  bool started = false;
  bool stopping = false;
  std::function<void()> on_stopped;
};

}  // namespace gemmad::ipc::detail
