// gemmad_client: blocking socket client with a signal-safe interrupt pipe (see client.h).
#include "clients/cpp/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <utility>

#include "ipc/protocol.h"

namespace gemmad::client {

const char* const kClientVersion = "gemmad_client " GEMMAD_CLIENT_VERSION;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr std::uint32_t kMaxAcceptedFrameBytes = 1u << 30;
// Replies to other requests kept while a helper waits for its own; a daemon that floods
// them past this is broken.
constexpr std::size_t kMaxPendingMessages = 100'000;

std::string errno_text(int err) {
  return std::strerror(err);
}

Error connect_error(const std::string& path, int err) {
  ErrorCode code = ErrorCode::kIo;
  switch (err) {
    case ENOENT:
    case ECONNREFUSED:
    case ENOTDIR:
      code = ErrorCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
      code = ErrorCode::kPermissionDenied;
      break;
    default:
      break;
  }
  return make_error(code, "cannot reach gemmad at " + path + ": " + errno_text(err));
}

}  // namespace

struct Client::State {
  ~State() {
    if (fd >= 0) ::close(fd);
    if (wake_read >= 0) ::close(wake_read);
    if (wake_write >= 0) ::close(wake_write);
  }

  // Blocks until a frame arrives, the deadline passes (nullopt) or the interrupter fires.
  Result<std::optional<v1::ServerMessage>> read_raw(std::optional<Clock::time_point> deadline);
  // The next message for `request_id` (or a connection-level one, id 0); others are queued.
  Result<std::optional<v1::ServerMessage>> read_for(std::uint64_t request_id,
                                                    std::optional<Clock::time_point> deadline);
  Status write_frame(const std::string& frame);

  int fd = -1;
  int wake_read = -1;
  int wake_write = -1;
  ClientOptions options;
  ipc::FrameDecoder decoder;
  std::deque<v1::ServerMessage> pending;
  v1::HelloReply hello;
  bool eof = false;
  std::mutex write_mutex;
  std::atomic<std::uint64_t> next_id{1};
};

Result<std::optional<v1::ServerMessage>> Client::State::read_raw(
    std::optional<Clock::time_point> deadline) {
  char buffer[kReadChunkBytes];
  for (;;) {
    if (auto frame = decoder.next_frame()) {
      auto message = ipc::parse_server_message(*frame);
      if (!message.ok()) return std::move(message).error().with_context("reply from gemmad");
      return std::optional<v1::ServerMessage>(std::move(message).value());
    }
    if (eof) return make_error(ErrorCode::kIo, "gemmad closed the connection");
    int timeout_ms = -1;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;  // a signal; its handler may have triggered the pipe
      return make_error(ErrorCode::kIo, "poll: " + errno_text(errno));
    }
    if (ready == 0) return std::optional<v1::ServerMessage>();
    if (fds[1].revents & POLLIN) {
      char drain[64];
      while (::read(wake_read, drain, sizeof(drain)) > 0) {
      }
      return make_error(ErrorCode::kCancelled, "interrupted");
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return make_error(ErrorCode::kIo, "reading from gemmad: " + errno_text(errno));
      }
      if (n == 0) {
        eof = true;
        continue;
      }
      Status fed = decoder.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
      if (!fed.ok()) return std::move(fed).error().with_context("reply from gemmad");
    }
  }
}

Result<std::optional<v1::ServerMessage>> Client::State::read_for(
    std::uint64_t request_id, std::optional<Clock::time_point> deadline) {
  for (auto it = pending.begin(); it != pending.end(); ++it) {
    if (it->request_id() == request_id || it->request_id() == 0) {
      v1::ServerMessage message = std::move(*it);
      pending.erase(it);
      return std::optional<v1::ServerMessage>(std::move(message));
    }
  }
  for (;;) {
    GEMMAD_ASSIGN_OR_RETURN(auto message, read_raw(deadline));
    if (!message) return message;
    if (message->request_id() == request_id || message->request_id() == 0) return message;
    if (pending.size() >= kMaxPendingMessages) {
      return make_error(
          ErrorCode::kResourceExhausted,
          "more than " + std::to_string(kMaxPendingMessages) + " unread replies to other requests");
    }
    pending.push_back(std::move(*message));
  }
}

Status Client::State::write_frame(const std::string& frame) {
  std::lock_guard lock(write_mutex);
  std::size_t done = 0;
  while (done < frame.size()) {
    // MSG_NOSIGNAL: a daemon that went away is an error value, not SIGPIPE.
    const ssize_t n = ::send(fd, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "writing to gemmad: " + errno_text(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

void Interrupter::trigger() const noexcept {
  if (fd_ < 0) return;
  const int saved = errno;  // signal handlers must not disturb errno
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd_, &byte, 1);  // full pipe: already triggered
  errno = saved;
}

Result<Client> Client::connect(const std::string& socket_path, ClientOptions options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "socket path '" + socket_path + "' is " + std::to_string(socket_path.size()) +
                          " bytes; it must be 1 to " + std::to_string(sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  auto state = std::make_unique<State>();
  state->options = options;
  state->decoder.set_max_frame_bytes(options.max_frame_bytes);
  state->fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (state->fd < 0) return make_error(ErrorCode::kIo, "socket(AF_UNIX): " + errno_text(errno));
  int rc;
  do {
    rc = ::connect(state->fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return connect_error(socket_path, errno);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return make_error(ErrorCode::kIo, "pipe2: " + errno_text(errno));
  }
  state->wake_read = pipe_fds[0];
  state->wake_write = pipe_fds[1];
  return Client(std::move(state));
}

Client::Client(std::unique_ptr<State> state) : state_(std::move(state)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<v1::HelloReply> Client::hello(std::string_view app_name, std::string_view client_version) {
  v1::ClientMessage message;
  v1::Hello* hello = message.mutable_hello();
  hello->set_app_name(std::string(app_name));
  hello->set_client_version(std::string(client_version));
  hello->set_protocol_version(ipc::kProtocolVersion);
  GEMMAD_ASSIGN_OR_RETURN(auto reply, request(std::move(message), v1::ServerMessage::kHelloReply));
  state_->hello = reply.hello_reply();
  const std::uint32_t limit = state_->hello.limits().max_frame_bytes();
  if (limit > state_->decoder.max_frame_bytes()) {
    state_->decoder.set_max_frame_bytes(std::min(limit, kMaxAcceptedFrameBytes));
  }
  return state_->hello;
}

const v1::HelloReply& Client::server_hello() const {
  return state_->hello;
}

Result<std::uint64_t> Client::send(v1::ClientMessage message) {
  if (message.request_id() == 0) message.set_request_id(state_->next_id.fetch_add(1));
  GEMMAD_ASSIGN_OR_RETURN(std::string frame,
                          ipc::encode_message_frame(message, state_->decoder.max_frame_bytes()));
  GEMMAD_TRY(state_->write_frame(frame));
  return message.request_id();
}

Status Client::cancel(std::uint64_t target_request_id) {
  v1::ClientMessage message;
  message.mutable_cancel()->set_target_request_id(target_request_id);
  GEMMAD_TRY(send(std::move(message)));
  return {};
}

Result<v1::ServerMessage> Client::next() {
  if (!state_->pending.empty()) {
    v1::ServerMessage message = std::move(state_->pending.front());
    state_->pending.pop_front();
    return message;
  }
  GEMMAD_ASSIGN_OR_RETURN(auto message, state_->read_raw(std::nullopt));
  return std::move(*message);  // no deadline: never nullopt
}

Result<std::optional<v1::ServerMessage>> Client::next_for(std::chrono::milliseconds timeout) {
  if (!state_->pending.empty()) {
    v1::ServerMessage message = std::move(state_->pending.front());
    state_->pending.pop_front();
    return std::optional<v1::ServerMessage>(std::move(message));
  }
  return state_->read_raw(Clock::now() + timeout);
}

Result<std::uint64_t> Client::send_request(v1::ClientMessage message) {
  auto sent = send(std::move(message));
  if (sent.ok() || sent.error().code != ErrorCode::kIo) return sent;
  // The daemon may have said why before it closed (BUSY at the client limit, PROTOCOL): that
  // reason is what the caller needs, not "broken pipe". It arrives at once or not at all.
  const auto deadline = Clock::now() + std::chrono::milliseconds(500);
  for (;;) {
    auto reply = state_->read_raw(deadline);
    if (!reply.ok() || !reply->has_value()) return sent;
    if ((*reply)->request_id() == 0 && (*reply)->has_error()) {
      return ipc::from_wire_error((*reply)->error());
    }
    if (state_->pending.size() < kMaxPendingMessages) {
      state_->pending.push_back(std::move(**reply));
    }
  }
}

Result<v1::ServerMessage> Client::request(v1::ClientMessage message,
                                          v1::ServerMessage::BodyCase expected) {
  GEMMAD_ASSIGN_OR_RETURN(const std::uint64_t id, send_request(std::move(message)));
  GEMMAD_ASSIGN_OR_RETURN(auto reply, state_->read_for(id, std::nullopt));
  if (reply->body_case() == v1::ServerMessage::kError) {
    return ipc::from_wire_error(reply->error());
  }
  if (reply->body_case() != expected) {
    return make_error(ErrorCode::kInternal, std::string("gemmad answered request ") +
                                                std::to_string(id) + " with " +
                                                ipc::body_name(reply->body_case()) + ", expected " +
                                                ipc::body_name(expected));
  }
  return std::move(*reply);
}

Result<v1::Done> Client::stream(v1::ClientMessage message, const TokenCallback& on_token) {
  GEMMAD_ASSIGN_OR_RETURN(const std::uint64_t id, send_request(std::move(message)));
  std::optional<Clock::time_point> deadline;
  for (;;) {
    auto reply = state_->read_for(id, deadline);
    if (!reply.ok()) {
      if (reply.error().code != ErrorCode::kCancelled) return std::move(reply).error();
      // Interrupted: ask the daemon to stop, then wait (bounded) for the stream's Done.
      if (!deadline) {
        GEMMAD_TRY(cancel(id));
        deadline = Clock::now() + state_->options.cancel_grace;
      }
      continue;
    }
    if (!*reply) {
      return make_error(ErrorCode::kCancelled,
                        "gemmad did not end request " + std::to_string(id) + " within " +
                            std::to_string(state_->options.cancel_grace.count()) + " ms of Cancel");
    }
    v1::ServerMessage& m = **reply;
    switch (m.body_case()) {
      case v1::ServerMessage::kToken:
        if (on_token) on_token(m.token());
        break;
      case v1::ServerMessage::kDone:
        return std::move(*m.mutable_done());
      case v1::ServerMessage::kError:
        return ipc::from_wire_error(m.error());
      case v1::ServerMessage::kHelloReply:
      case v1::ServerMessage::kSessionList:
      case v1::ServerMessage::kSessionDetail:
      case v1::ServerMessage::kSessionExport:
      case v1::ServerMessage::kStatusReply:
      case v1::ServerMessage::kTokenizeReply:
      case v1::ServerMessage::kDetokenizeReply:
      case v1::ServerMessage::kAck:
      case v1::ServerMessage::kModelList:
      case v1::ServerMessage::BODY_NOT_SET:
        return make_error(ErrorCode::kInternal,
                          std::string("gemmad sent ") + ipc::body_name(m.body_case()) +
                              " in the stream of request " + std::to_string(id));
    }
  }
}

Result<v1::Done> Client::chat(const v1::ChatRequest& request, const TokenCallback& on_token) {
  v1::ClientMessage message;
  *message.mutable_chat() = request;
  return stream(std::move(message), on_token);
}

Result<v1::Done> Client::generate(const v1::GenerateRequest& request,
                                  const TokenCallback& on_token) {
  v1::ClientMessage message;
  *message.mutable_generate() = request;
  return stream(std::move(message), on_token);
}

Result<v1::SessionList> Client::list_sessions(std::uint32_t limit) {
  v1::ClientMessage message;
  message.mutable_list_sessions()->set_limit(limit);
  GEMMAD_ASSIGN_OR_RETURN(auto reply, request(std::move(message), v1::ServerMessage::kSessionList));
  return std::move(*reply.mutable_session_list());
}

Result<v1::SessionDetail> Client::show_session(const std::string& session_id) {
  v1::ClientMessage message;
  message.mutable_show_session()->set_session_id(session_id);
  GEMMAD_ASSIGN_OR_RETURN(auto reply,
                          request(std::move(message), v1::ServerMessage::kSessionDetail));
  return std::move(*reply.mutable_session_detail());
}

Status Client::delete_session(const std::string& session_id) {
  v1::ClientMessage message;
  message.mutable_delete_session()->set_session_id(session_id);
  GEMMAD_TRY(request(std::move(message), v1::ServerMessage::kAck));
  return {};
}

Status Client::shutdown() {
  v1::ClientMessage message;
  message.mutable_shutdown();
  GEMMAD_TRY(request(std::move(message), v1::ServerMessage::kAck));
  return {};
}

Result<v1::SessionExport> Client::export_session(const std::string& session_id,
                                                 const std::string& format) {
  v1::ClientMessage message;
  message.mutable_export_session()->set_session_id(session_id);
  message.mutable_export_session()->set_format(format);
  GEMMAD_ASSIGN_OR_RETURN(auto reply,
                          request(std::move(message), v1::ServerMessage::kSessionExport));
  return std::move(*reply.mutable_session_export());
}

Result<v1::StatusReply> Client::status() {
  v1::ClientMessage message;
  message.mutable_status();
  GEMMAD_ASSIGN_OR_RETURN(auto reply, request(std::move(message), v1::ServerMessage::kStatusReply));
  return std::move(*reply.mutable_status_reply());
}

Result<v1::ModelList> Client::list_models() {
  v1::ClientMessage message;
  message.mutable_list_models();
  GEMMAD_ASSIGN_OR_RETURN(auto reply, request(std::move(message), v1::ServerMessage::kModelList));
  return std::move(*reply.mutable_model_list());
}

Result<v1::TokenizeReply> Client::tokenize(const std::string& text, bool add_bos, bool special) {
  v1::ClientMessage message;
  v1::TokenizeRequest* req = message.mutable_tokenize();
  req->set_text(text);
  req->set_add_bos(add_bos);
  req->set_special(special);
  GEMMAD_ASSIGN_OR_RETURN(auto reply,
                          request(std::move(message), v1::ServerMessage::kTokenizeReply));
  return std::move(*reply.mutable_tokenize_reply());
}

Result<v1::DetokenizeReply> Client::detokenize(std::span<const std::uint32_t> ids) {
  v1::ClientMessage message;
  message.mutable_detokenize()->mutable_ids()->Add(ids.begin(), ids.end());
  GEMMAD_ASSIGN_OR_RETURN(auto reply,
                          request(std::move(message), v1::ServerMessage::kDetokenizeReply));
  return std::move(*reply.mutable_detokenize_reply());
}

Interrupter Client::interrupter() const {
  return Interrupter(state_->wake_write);
}

int Client::fd() const {
  return state_->fd;
}

}  // namespace gemmad::client
