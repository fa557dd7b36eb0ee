// The gemmad server transport: listener, accept loop, client limit, handler dispatch, stop.
#include "ipc/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <utility>
#include <vector>

#include "ipc/protocol.h"
#include "ipc/server_core.h"

namespace gemmad::ipc {
namespace asio = boost::asio;

namespace {

void rethrow_if_failed(std::exception_ptr failure) {
  if (failure) std::rethrow_exception(failure);
}

Result<PeerCredentials> read_peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return make_error(ErrorCode::kIo, "SO_PEERCRED failed");
  }
  return PeerCredentials{cred.uid, cred.gid, cred.pid};
}

std::string range_error(const char* name, std::uint64_t value, const char* range) {
  return std::string("server option ") + name + " is " + std::to_string(value) + "; it must be " +
         range;
}

}  // namespace

Status validate_server_options(const ServerOptions& o) {
  if (o.max_frame_bytes < 1024 || o.max_frame_bytes > (1u << 30)) {
    return make_error(ErrorCode::kInvalidArgument,
                      range_error("max_frame_bytes", o.max_frame_bytes, "in [1024, 1073741824]"));
  }
  if (o.max_clients < 1) {
    return make_error(ErrorCode::kInvalidArgument, range_error("max_clients", 0, ">= 1"));
  }
  if (o.max_clients_per_uid < 1) {
    return make_error(ErrorCode::kInvalidArgument, range_error("max_clients_per_uid", 0, ">= 1"));
  }
  if (o.send_queue_soft_bytes < 1 || o.send_queue_soft_frames < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "server options send_queue_soft_bytes and send_queue_soft_frames must be "
                      ">= 1");
  }
  const std::uint64_t min_hard =
      std::uint64_t{o.send_queue_soft_bytes} + o.max_frame_bytes + kFrameHeaderBytes;
  if (o.send_queue_hard_bytes < min_hard) {
    return make_error(
        ErrorCode::kInvalidArgument,
        range_error("send_queue_hard_bytes", o.send_queue_hard_bytes,
                    (">= send_queue_soft_bytes + max_frame_bytes + 4 = " + std::to_string(min_hard))
                        .c_str()));
  }
  if (o.send_queue_hard_frames <= o.send_queue_soft_frames) {
    return make_error(ErrorCode::kInvalidArgument,
                      range_error("send_queue_hard_frames", o.send_queue_hard_frames,
                                  "> send_queue_soft_frames"));
  }
  if (o.handshake_timeout.count() < 0 || o.close_timeout.count() < 0 ||
      o.idle_timeout.count() < 0 || o.frame_timeout.count() < 0 || o.write_timeout.count() < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "server options handshake_timeout, close_timeout, idle_timeout, "
                      "frame_timeout and write_timeout must be >= 0");
  }
  if (o.socket_send_buffer_bytes < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "server option socket_send_buffer_bytes must be >= 0");
  }
  if (o.backlog < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      range_error("backlog", static_cast<std::uint64_t>(o.backlog), ">= 1"));
  }
  return {};
}

namespace detail {

ServerCore::ServerCore(asio::io_context& io_context, ServerOptions server_options,
                       ServerHandlers server_handlers)
    : io(io_context),
      options(std::move(server_options)),
      handlers(std::move(server_handlers)),
      acceptor(io_context),
      accept_retry_timer(io_context),
      overflow_ids(read_overflow_ids()) {}

asio::awaitable<void> ServerCore::accept_loop(std::shared_ptr<ServerCore> core) {
  for (;;) {
    auto [ec, socket] = co_await core->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (core->stopping) co_return;
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    if (ec) {
      // EMFILE, ENFILE, ENOBUFS, ECONNABORTED...: transient. Back off briefly instead of
      // spinning on a listener that stays readable.
      core->log("accept failed: " + ec.message());
      core->accept_retry_timer.expires_after(std::chrono::milliseconds(100));
      co_await core->accept_retry_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (core->stopping) co_return;
      continue;
    }
    core->accepted(std::move(socket));
  }
}

void ServerCore::accepted(Connection::Socket socket) {
  auto peer = read_peer_credentials(socket.native_handle());
  if (!peer.ok()) {
    log("dropping accepted connection: " + peer.error().message);
    return;  // the socket closes with its destructor
  }
  if (options.socket_send_buffer_bytes > 0) {
    boost::system::error_code ignored;  // the kernel clamps; a refusal only costs tuning
    socket.set_option(asio::socket_base::send_buffer_size(options.socket_send_buffer_bytes),
                      ignored);
  }
  const std::uint64_t id = next_id++;
  if (options.refuse_overflow_ids) {
    if (Status trusted = check_peer_identity(*peer, overflow_ids); !trusted.ok()) {
      log("connection " + std::to_string(id) + " (pid " + std::to_string(peer->pid) +
          "): " + trusted.error().message);
      refuse(std::move(socket), id, *peer, v1::ERROR_CODE_PERMISSION_DENIED,
             trusted.error().message);
      return;
    }
  }
  if (std::string why = make_room_for(*peer); !why.empty()) {
    log("connection " + std::to_string(id) + " (pid " + std::to_string(peer->pid) + ", uid " +
        std::to_string(peer->uid) + "): refused, " + why);
    refuse(std::move(socket), id, *peer, v1::ERROR_CODE_BUSY, "busy: " + why);
    return;
  }
  auto conn = std::make_shared<Connection>(Connection::Private{}, shared_from_this(),
                                           std::move(socket), id, *peer, /*counted=*/true);
  connections.emplace(id, conn);
  counted.fetch_add(1);
  if (handlers.on_open) {
    try {
      handlers.on_open(conn);
    } catch (const std::exception& e) {
      log(std::string("on_open handler threw: ") + e.what());
    }
  }
  conn->start(/*expect_hello=*/true);
}

std::string ServerCore::make_room_for(const PeerCredentials& peer) {
  // Live connections (closing ones are on their way out) per uid.
  std::unordered_map<uid_t, std::vector<Connection*>> by_uid;
  std::size_t live = 0;
  for (auto& [conn_id, conn] : connections) {
    if (!conn->counted_ || conn->closing()) continue;
    by_uid[conn->peer().uid].push_back(conn.get());
    ++live;
  }
  const std::size_t own = by_uid.count(peer.uid) ? by_uid[peer.uid].size() : 0;
  if (own >= options.max_clients_per_uid) {
    return "uid " + std::to_string(peer.uid) + " holds " + std::to_string(own) +
           " connections (server.max_clients_per_uid " +
           std::to_string(options.max_clients_per_uid) + ")";
  }
  if (live < options.max_clients) return {};
  // Full: the uid holding the most gives up an idle connection, if it holds more than the
  // newcomer's uid does; a uid is never pushed out by itself or by a bigger holder.
  uid_t top = peer.uid;
  std::size_t top_count = own;
  for (auto& [uid, conns] : by_uid) {
    if (conns.size() > top_count) top = uid, top_count = conns.size();
  }
  Connection* victim = nullptr;
  if (top != peer.uid) {
    for (Connection* conn : by_uid[top]) {
      if (conn->requests_in_flight() != 0) continue;
      if (victim == nullptr || conn->last_activity_ns_.load() < victim->last_activity_ns_.load()) {
        victim = conn;
      }
    }
  }
  if (victim == nullptr) {
    return std::to_string(live) + " clients connected (server.max_clients " +
           std::to_string(options.max_clients) + ") and none idle of a uid holding more";
  }
  victim->close_with(0, v1::ERROR_CODE_BUSY,
                     "closed to make room: uid " + std::to_string(top) + " holds the most (" +
                         std::to_string(top_count) + ") of " + std::to_string(live) +
                         " connections and this one was idle");
  return {};
}

void ServerCore::refuse(Connection::Socket socket, std::uint64_t id, const PeerCredentials& peer,
                        v1::ErrorCode code, std::string message) {
  auto conn = std::make_shared<Connection>(Connection::Private{}, shared_from_this(),
                                           std::move(socket), id, peer, /*counted=*/false);
  connections.emplace(id, conn);
  conn->start(/*expect_hello=*/false);
  conn->send(make_error_reply(0, code, std::move(message)));
  conn->close();
}

void ServerCore::connection_closed(const std::shared_ptr<Connection>& conn) {
  connections.erase(conn->id());
  if (conn->counted_) {
    counted.fetch_sub(1);
    if (handlers.on_close) {
      try {
        handlers.on_close(conn);
      } catch (const std::exception& e) {
        log(std::string("on_close handler threw: ") + e.what());
      }
    }
  }
  maybe_finish_stop();
}

void ServerCore::deliver_message(const std::shared_ptr<Connection>& conn,
                                 v1::ClientMessage message) {
  const std::uint64_t request_id = message.request_id();
  // One error boundary per request (CONTRIBUTING.md "Errors"): a throwing handler costs its
  // request, not the connection.
  try {
    handlers.on_message(conn, std::move(message));
  } catch (const std::exception& e) {
    conn->send(make_error_reply(request_id, v1::ERROR_CODE_INTERNAL,
                                std::string("handler failed: ") + e.what()));
  } catch (...) {
    conn->send(make_error_reply(request_id, v1::ERROR_CODE_INTERNAL,
                                "handler failed with a non-standard exception"));
  }
}

void ServerCore::deliver_writable(const std::shared_ptr<Connection>& conn) {
  if (!conn->counted_ || !handlers.on_writable) return;
  try {
    handlers.on_writable(conn);
  } catch (const std::exception& e) {
    log(std::string("on_writable handler threw: ") + e.what());
  }
}

void ServerCore::log(std::string_view message) const {
  if (handlers.log) handlers.log(message);
}

void ServerCore::begin_stop(std::function<void()> on_stopped_callback) {
  if (on_stopped_callback) {
    // A second stop() while draining still gets its callback, after the first one's.
    on_stopped = [first = std::move(on_stopped), second = std::move(on_stopped_callback)] {
      if (first) first();
      second();
    };
  }
  if (stopping) {
    maybe_finish_stop();
    return;
  }
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry_timer.cancel();
  remove_socket_file(socket_file);
  socket_file = SocketFile{};
  std::vector<std::shared_ptr<Connection>> open;
  open.reserve(connections.size());
  for (auto& [id, conn] : connections)
    open.push_back(conn);
  for (auto& conn : open)
    conn->close();
  maybe_finish_stop();
}

void ServerCore::maybe_finish_stop() {
  if (!stopping || !connections.empty() || !on_stopped) return;
  auto callback = std::move(on_stopped);
  on_stopped = nullptr;
  callback();
}

void ServerCore::shutdown_now() {
  handlers = ServerHandlers{};
  on_stopped = nullptr;
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  accept_retry_timer.cancel();
  remove_socket_file(socket_file);
  socket_file = SocketFile{};
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [id, conn] : connections)
    open.push_back(conn);
  for (auto& conn : open)
    conn->finish_close();
  connections.clear();
}

}  // namespace detail

Server::Server(std::shared_ptr<detail::ServerCore> core) : core_(std::move(core)) {}

Server::~Server() {
  core_->shutdown_now();
}

Result<std::unique_ptr<Server>> Server::listen(asio::io_context& io, const std::string& socket_path,
                                               ServerOptions options, ServerHandlers handlers) {
  GEMMAD_TRY(validate_server_options(options));
  if (!handlers.on_message) {
    return make_error(ErrorCode::kInvalidArgument, "ServerHandlers.on_message is required");
  }
  GEMMAD_ASSIGN_OR_RETURN(ListeningSocket listening,
                          listen_unix_socket(socket_path, options.socket_mode, options.backlog));
  auto core = std::make_shared<detail::ServerCore>(io, std::move(options), std::move(handlers));
  boost::system::error_code ec;
  core->acceptor.assign(asio::local::stream_protocol(), listening.fd, ec);
  if (ec) {
    ::close(listening.fd);
    remove_socket_file(listening.file);
    return make_error(ErrorCode::kIo, "adopting listener " + socket_path + ": " + ec.message());
  }
  core->socket_file = listening.file;
  return std::unique_ptr<Server>(new Server(std::move(core)));
}

Result<std::unique_ptr<Server>> Server::adopt(asio::io_context& io, int listening_fd,
                                              ServerOptions options, ServerHandlers handlers) {
  GEMMAD_TRY(validate_server_options(options));
  if (!handlers.on_message) {
    return make_error(ErrorCode::kInvalidArgument, "ServerHandlers.on_message is required");
  }
  GEMMAD_TRY(check_listening_unix_socket(listening_fd));
  auto core = std::make_shared<detail::ServerCore>(io, std::move(options), std::move(handlers));
  boost::system::error_code ec;
  core->acceptor.assign(asio::local::stream_protocol(), listening_fd, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "adopting listening fd " + std::to_string(listening_fd) +
                                          ": " + ec.message());
  }
  return std::unique_ptr<Server>(new Server(std::move(core)));
}

void Server::start() {
  if (core_->started) return;
  core_->started = true;
  asio::co_spawn(core_->io, detail::ServerCore::accept_loop(core_), rethrow_if_failed);
}

void Server::stop(std::function<void()> on_stopped) {
  asio::post(core_->io, [core = core_, callback = std::move(on_stopped)]() mutable {
    core->begin_stop(std::move(callback));
  });
}

std::size_t Server::connection_count() const {
  return core_->counted.load();
}

const ServerOptions& Server::options() const {
  return core_->options;
}

}  // namespace gemmad::ipc
