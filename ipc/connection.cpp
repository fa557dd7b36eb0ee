// One client connection: read loop (frames, Hello-first), write loop (bounded queue), close.
#include "ipc/connection.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <exception>
#include <utility>
#include <vector>

#include "ipc/protocol.h"
#include "ipc/server_core.h"

namespace gemmad::ipc {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kReadChunkBytes = 64 * 1024;
// One gather write takes at most this much of the queue, so a finished batch releases its
// memory (and may trigger on_writable) while the rest is still queued.
constexpr std::size_t kWriteBatchBytes = 256 * 1024;
constexpr std::size_t kWriteBatchFrames = 64;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The watch timer runs at a quarter of the shortest timeout (so one fires at most 25% late),
// but not more often than every 10 ms; zero when no timeout is set.
std::chrono::milliseconds watch_period(const ServerOptions& o) {
  std::chrono::milliseconds shortest{0};
  for (auto t : {o.idle_timeout, o.frame_timeout, o.write_timeout}) {
    if (t.count() > 0 && (shortest.count() == 0 || t < shortest)) shortest = t;
  }
  if (shortest.count() == 0) return shortest;
  return std::max(std::chrono::milliseconds(10), shortest / 4);
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// Coroutines only end with an exception on a bug (bad_alloc aside); surface it from run().
void rethrow_if_failed(std::exception_ptr failure) {
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

const char* send_status_name(SendStatus status) {
  switch (status) {
    case SendStatus::kOk:
      return "ok";
    case SendStatus::kFull:
      return "full";
    case SendStatus::kClosed:
      return "closed";
    case SendStatus::kTooLarge:
      return "too_large";
  }
  return "unknown";
}

Connection::Connection(Private, std::shared_ptr<detail::ServerCore> core, Socket socket,
                       std::uint64_t id, PeerCredentials peer, bool counted)
    : core_(core),
      max_frame_bytes_(core->options.max_frame_bytes),
      soft_bytes_(core->options.send_queue_soft_bytes),
      soft_frames_(core->options.send_queue_soft_frames),
      hard_bytes_(core->options.send_queue_hard_bytes),
      hard_frames_(core->options.send_queue_hard_frames),
      socket_(std::move(socket)),
      handshake_timer_(socket_.get_executor()),
      close_timer_(socket_.get_executor()),
      watch_timer_(socket_.get_executor()),
      idle_timeout_(core->options.idle_timeout),
      frame_timeout_(core->options.frame_timeout),
      write_timeout_(core->options.write_timeout),
      watch_every_(watch_period(core->options)),
      id_(id),
      peer_(peer),
      counted_(counted),
      decoder_(core->options.max_frame_bytes),
      last_activity_ns_(now_ns()) {}

Connection::~Connection() = default;

SendStatus Connection::send(const v1::ServerMessage& message) {
  const bool final_reply = message.body_case() != v1::ServerMessage::kToken;
  auto frame = encode_message_frame(message, max_frame_bytes_);
  if (!frame.ok()) {
    if (frame.error().code != ErrorCode::kOutOfRange) return SendStatus::kClosed;
    if (final_reply) {
      // The request still gets its one final reply (gemmad.proto "Conversation" rule 3).
      send(make_error_reply(message.request_id(), v1::ERROR_CODE_TOO_LARGE,
                            std::string(body_name(message.body_case())) +
                                " reply does not fit one frame: " + frame.error().message +
                                " (server.max_frame_bytes)"));
    }
    return SendStatus::kTooLarge;
  }
  const std::size_t size = frame->size();
  bool start_writer = false;
  bool overflow = false;
  SendStatus status = SendStatus::kOk;
  {
    std::lock_guard lock(mutex_);
    if (closing_) return SendStatus::kClosed;
    if (queued_bytes_ + size > hard_bytes_ || queued_frames_ + 1 > hard_frames_) {
      // The producer ignored kFull and the peer does not read: drop the peer, not the daemon.
      closing_ = true;
      drop_queue_locked();
      overflow = true;
    } else {
      queue_.push_back(std::move(frame).value());
      if (final_reply) {
        // One request fewer in flight (never below zero: request_id 0 errors answer none).
        std::size_t n = in_flight_.load();
        while (n > 0 && !in_flight_.compare_exchange_weak(n, n - 1)) {
        }
        last_activity_ns_.store(now_ns());
      }
      queued_bytes_ += size;
      queued_frames_ += 1;
      if (!writing_) {
        writing_ = true;
        start_writer = true;
      }
      if (queued_bytes_ >= soft_bytes_ || queued_frames_ >= soft_frames_) {
        want_writable_ = true;
        status = SendStatus::kFull;
      }
    }
  }
  if (overflow) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (auto core = self->core_.lock()) {
        core->log("connection " + std::to_string(self->id_) + " (pid " +
                  std::to_string(self->peer_.pid) +
                  "): outgoing queue over its hard limit; closing (peer not reading)");
      }
      self->finish_close();
    });
    return SendStatus::kClosed;
  }
  if (start_writer) {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      asio::co_spawn(self->socket_.get_executor(), write_loop(self), rethrow_if_failed);
    });
  }
  return status;
}

bool Connection::writable() const {
  std::lock_guard lock(mutex_);
  return !closing_ && !want_writable_;
}

std::size_t Connection::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_bytes_;
}

std::size_t Connection::queued_frames() const {
  std::lock_guard lock(mutex_);
  return queued_frames_;
}

bool Connection::closing() const {
  std::lock_guard lock(mutex_);
  return closing_;
}

std::size_t Connection::requests_in_flight() const {
  return in_flight_.load();
}

void Connection::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_) return;
    closing_ = true;
  }
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->begin_graceful_close(); });
}

void Connection::start(bool expect_hello) {
  if (expect_hello) {
    auto timeout = core_.lock()->options.handshake_timeout;
    if (timeout.count() > 0) {
      handshake_timer_.expires_after(timeout);
      handshake_timer_.async_wait([weak = weak_from_this(), timeout](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->hello_received_ || self->io_closed_) return;
        self->protocol_error(0, "no Hello within " + std::to_string(timeout.count()) + " ms");
      });
    }
  }
  if (expect_hello) arm_watch();
  asio::co_spawn(socket_.get_executor(), read_loop(shared_from_this()), rethrow_if_failed);
}

void Connection::arm_watch() {
  if (watch_every_.count() == 0 || io_closed_) return;
  watch_timer_.expires_after(watch_every_);
  watch_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self) self->watch();
  });
}

void Connection::watch() {
  if (io_closed_ || closing()) return;  // a closing connection is bounded by close_timeout
  const auto now = std::chrono::steady_clock::now();
  const std::int64_t now_n = now_ns();
  auto since = [now_n](std::int64_t then) { return std::chrono::nanoseconds(now_n - then); };
  if (frame_timeout_.count() > 0 && decoder_.mid_frame() &&
      now - frame_started_ >= frame_timeout_) {
    protocol_error(0, "frame not complete within " + ms(frame_timeout_) + " (" +
                          std::to_string(decoder_.buffered_bytes()) +
                          " bytes received; server.frame_timeout_ms)");
    return;
  }
  const std::int64_t write_started = write_started_ns_.load();
  if (write_timeout_.count() > 0 && write_started != 0 && since(write_started) >= write_timeout_) {
    if (auto core = core_.lock()) {
      core->log("connection " + std::to_string(id_) + " (pid " + std::to_string(peer_.pid) +
                ", uid " + std::to_string(peer_.uid) + "): took no data for " + ms(write_timeout_) +
                " (server.write_timeout_ms); closing");
    }
    finish_close();
    return;
  }
  if (idle_timeout_.count() > 0 && hello_received_ && in_flight_.load() == 0 &&
      since(last_activity_ns_.load()) >= idle_timeout_) {
    close_with(0, v1::ERROR_CODE_CANCELLED,
               "idle for " + ms(idle_timeout_) +
                   " with no request in flight (server.idle_timeout_ms); closing");
    return;
  }
  arm_watch();
}

void Connection::close_with(std::uint64_t request_id, v1::ErrorCode code,
                            const std::string& message) {
  if (auto core = core_.lock()) {
    core->log("connection " + std::to_string(id_) + " (pid " + std::to_string(peer_.pid) +
              ", uid " + std::to_string(peer_.uid) + "): " + message);
  }
  send(make_error_reply(request_id, code, message));
  close();
}

asio::awaitable<void> Connection::read_loop(std::shared_ptr<Connection> self) {
  std::vector<std::uint8_t> buffer(kReadChunkBytes);
  for (;;) {
    auto [ec, n] = co_await self->socket_.async_read_some(asio::buffer(buffer),
                                                          asio::as_tuple(asio::use_awaitable));
    if (self->io_closed_) co_return;
    if (ec) {
      // EOF or reset: the peer is gone (a half-close counts as leaving), nothing to flush to.
      self->finish_close();
      co_return;
    }
    // While closing, keep reading (and discarding) so a peer that leaves is noticed at once.
    if (self->closing()) continue;
    const bool continuing = self->decoder_.mid_frame();
    const Status fed = self->decoder_.feed(std::span<const std::uint8_t>(buffer.data(), n));
    // The frame timeout counts from the first byte of each frame.
    if (self->decoder_.mid_frame() && (!continuing || self->decoder_.ready_frames() > 0)) {
      self->frame_started_ = std::chrono::steady_clock::now();
    }
    // Frames completed before a bad header are still delivered, in order.
    while (auto frame = self->decoder_.next_frame()) {
      if (!self->handle_frame(*frame)) break;
    }
    if (!fed.ok() && !self->closing()) self->protocol_error(0, fed.error().message);
  }
}

bool Connection::handle_frame(const std::string& payload) {
  auto parsed = parse_client_message(payload);
  if (!parsed.ok()) {
    // A well-framed message whose only fault is a string that is not UTF-8 is a bad request,
    // answered by name; anything else is a broken peer.
    if (auto bad = find_invalid_utf8(payload); bad && hello_received_) {
      in_flight_.fetch_add(1);
      send(make_error_reply(bad->request_id, v1::ERROR_CODE_INVALID_ARGUMENT,
                            "field " + bad->field + " is not valid UTF-8"));
      return !closing();
    } else if (bad) {
      protocol_error(bad->request_id, "field " + bad->field + " is not valid UTF-8");
      return false;
    }
    protocol_error(0, parsed.error().message);
    return false;
  }
  v1::ClientMessage& message = parsed.value();
  last_activity_ns_.store(now_ns());
  if (!hello_received_) {
    if (message.body_case() != v1::ClientMessage::kHello) {
      protocol_error(message.request_id(), std::string("the first frame must be Hello, got ") +
                                               body_name(message.body_case()));
      return false;
    }
    in_flight_.fetch_add(1);
    if (auto refusal = check_hello(message)) {
      send(*refusal);
      return !closing();
    }
    hello_received_ = true;
    handshake_timer_.cancel();
  } else if (message.body_case() == v1::ClientMessage::BODY_NOT_SET) {
    // Unset, or a body this build does not know (gemmad.proto "Compatibility").
    in_flight_.fetch_add(1);
    send(make_error_reply(message.request_id(), v1::ERROR_CODE_UNSUPPORTED,
                          "message has no body this daemon knows (protocol version " +
                              std::to_string(kProtocolVersion) + ")"));
    return !closing();
  } else {
    in_flight_.fetch_add(1);
  }
  auto core = core_.lock();
  if (!core) {
    finish_close();
    return false;
  }
  core->deliver_message(shared_from_this(), std::move(message));
  return !closing();
}

std::optional<v1::ServerMessage> Connection::check_hello(const v1::ClientMessage& message) const {
  const v1::Hello& hello = message.hello();
  const std::uint32_t version = hello.protocol_version();
  if (version < kMinProtocolVersion || version > kProtocolVersion) {
    return make_error_reply(
        message.request_id(), v1::ERROR_CODE_UNSUPPORTED,
        "Hello.protocol_version " + std::to_string(version) + " is outside the supported range [" +
            std::to_string(kMinProtocolVersion) + ", " + std::to_string(kProtocolVersion) + "]");
  }
  const std::size_t name = hello.app_name().size();
  if (name < 1 || name > kMaxAppNameBytes) {
    return make_error_reply(message.request_id(), v1::ERROR_CODE_INVALID_ARGUMENT,
                            "Hello.app_name is " + std::to_string(name) +
                                " bytes; it must be 1 to " + std::to_string(kMaxAppNameBytes));
  }
  return std::nullopt;
}

void Connection::protocol_error(std::uint64_t request_id, const std::string& message) {
  if (auto core = core_.lock()) {
    core->log("connection " + std::to_string(id_) + " (pid " + std::to_string(peer_.pid) +
              ", uid " + std::to_string(peer_.uid) + "): protocol error: " + message);
  }
  send(make_error_reply(request_id, v1::ERROR_CODE_PROTOCOL, message));
  close();
}

asio::awaitable<void> Connection::write_loop(std::shared_ptr<Connection> self) {
  std::vector<std::string> batch;
  std::vector<asio::const_buffer> buffers;
  for (;;) {
    batch.clear();
    buffers.clear();
    std::size_t batch_bytes = 0;
    {
      std::lock_guard lock(self->mutex_);
      if (self->queue_.empty() || self->io_closed_) {
        self->writing_ = false;
        const bool finish = self->closing_ && !self->io_closed_;
        if (!finish) co_return;
      } else {
        while (!self->queue_.empty() && batch.size() < kWriteBatchFrames &&
               (batch.empty() || batch_bytes + self->queue_.front().size() <= kWriteBatchBytes)) {
          batch_bytes += self->queue_.front().size();
          batch.push_back(std::move(self->queue_.front()));
          self->queue_.pop_front();
        }
      }
    }
    if (batch.empty()) {
      // Queue drained while closing: the graceful close is complete.
      self->finish_close();
      co_return;
    }
    for (const std::string& frame : batch)
      buffers.emplace_back(asio::buffer(frame));
    self->write_started_ns_.store(now_ns());
    auto [ec, n] =
        co_await asio::async_write(self->socket_, buffers, asio::as_tuple(asio::use_awaitable));
    self->write_started_ns_.store(0);
    (void)n;
    bool notify = false;
    {
      std::lock_guard lock(self->mutex_);
      self->queued_bytes_ -= batch_bytes;
      self->queued_frames_ -= batch.size();
      if (ec || self->io_closed_) self->writing_ = false;
      if (!ec && self->want_writable_ && !self->closing_ && self->below_low_watermark_locked()) {
        self->want_writable_ = false;
        notify = true;
      }
    }
    if (ec || self->io_closed_) {
      self->finish_close();
      co_return;
    }
    if (notify) {
      if (auto core = self->core_.lock()) core->deliver_writable(self);
    }
  }
}

bool Connection::below_low_watermark_locked() const {
  return queued_bytes_ <= soft_bytes_ / 2 && queued_frames_ <= soft_frames_ / 2;
}

void Connection::drop_queue_locked() {
  for (const std::string& frame : queue_)
    queued_bytes_ -= frame.size();
  queued_frames_ -= queue_.size();
  queue_.clear();
}

void Connection::begin_graceful_close() {
  if (io_closed_) return;
  handshake_timer_.cancel();
  bool idle = false;
  {
    std::lock_guard lock(mutex_);
    idle = !writing_;
  }
  if (idle) {
    finish_close();
    return;
  }
  auto timeout = std::chrono::milliseconds(2000);
  if (auto core = core_.lock()) timeout = core->options.close_timeout;
  close_timer_.expires_after(timeout);
  close_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!ec && self) self->finish_close();
  });
}

void Connection::finish_close() {
  if (io_closed_) return;
  io_closed_ = true;
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    drop_queue_locked();
  }
  handshake_timer_.cancel();
  close_timer_.cancel();
  watch_timer_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (auto core = core_.lock()) core->connection_closed(shared_from_this());
}

}  // namespace gemmad::ipc
