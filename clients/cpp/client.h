// gemmad_client: a synchronous, blocking client of the gemmad socket protocol
// (ipc/proto/gemmad.proto), used by gemmactl and by C++ applications.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "ipc/frame_codec.h"
#include "ipc/proto/gemmad.pb.h"

namespace gemmad::client {

// Sent in Hello.client_version unless the caller names its own.
extern const char* const kClientVersion;

// Async-signal-safe trigger of Client's interrupt path, e.g. from gemmactl's SIGINT handler:
// trigger() is a single write(2) to a pipe the client's read loop polls. A blocking read
// (next(), a helper) then wakes; a streaming helper (chat, generate) sends Cancel for its
// request and returns the daemon's Done{CANCELLED}; other reads return Error kCancelled
// ("interrupted"). A trigger while no read is running is kept for the next read.
// Valid only while its Client lives: reset it (Interrupter{}) before the Client goes, or a
// late signal writes to a closed (possibly reused) descriptor.
class Interrupter {
 public:
  Interrupter() = default;
  void trigger() const noexcept;

 private:
  friend class Client;
  explicit Interrupter(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct ClientOptions {
  // Largest frame accepted from the daemon before hello(); hello() raises it to the daemon's
  // announced Limits.max_frame_bytes (at most 1 GiB).
  std::uint32_t max_frame_bytes = ipc::kDefaultMaxFrameBytes;
  // After an interrupt sends Cancel, how long a streaming helper waits for the stream's end
  // before giving up with kCancelled.
  std::chrono::milliseconds cancel_grace{10'000};
};

using TokenCallback = std::function<void(const v1::Token&)>;

// One connection to the daemon. Movable, not copyable.
//
// Threads: send() and cancel() may be called from any thread (writes are serialized); reads
// (next, next_for and every helper, which read) from one thread at a time.
//
// Errors: a daemon Error reply becomes gemmad::Error with the code mapped by
// ipc::from_wire_error_code (BUSY -> kResourceExhausted, NOT_FOUND -> kNotFound, ...) and the
// daemon's message. A connection-level Error (request_id 0, e.g. BUSY at connect, PROTOCOL)
// ends whichever helper is waiting. The daemon closing the socket is kIo.
class Client {
 public:
  // Connects to `socket_path` (see ipc/socket_path.h for finding it). Every error means the daemon
  // cannot be reached (gemmactl exit code 3); the code says why: kNotFound when nothing
  // listens there (ENOENT, ECONNREFUSED, ENOTDIR), kPermissionDenied (EACCES, EPERM),
  // kInvalidArgument (path too long for sun_path), kIo otherwise. Messages name the path.
  static Result<Client> connect(const std::string& socket_path, ClientOptions options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Sends Hello (protocol_version = ipc::kProtocolVersion) and waits for HelloReply.
  Result<v1::HelloReply> hello(std::string_view app_name,
                               std::string_view client_version = kClientVersion);
  // The last HelloReply (empty before hello()).
  const v1::HelloReply& server_hello() const;

  // Sends one frame. A request_id of 0 is replaced by the next automatic id (1, 2, ...);
  // returns the request_id used.
  Result<std::uint64_t> send(v1::ClientMessage message);
  // Sends Cancel{target_request_id} (its own request_id is automatic; its Ack is read by
  // whoever reads next).
  Status cancel(std::uint64_t target_request_id);

  // The next ServerMessage of any request, blocking. Error kCancelled "interrupted" when the
  // Interrupter fired.
  Result<v1::ServerMessage> next();
  // Same, waiting at most `timeout`; nullopt when it passed.
  Result<std::optional<v1::ServerMessage>> next_for(std::chrono::milliseconds timeout);

  // Streaming requests: on_token for each Token, then the Done. Interrupt -> Cancel -> the
  // daemon's Done{STOP_REASON_CANCELLED} is returned (check stop_reason).
  Result<v1::Done> chat(const v1::ChatRequest& request, const TokenCallback& on_token);
  Result<v1::Done> generate(const v1::GenerateRequest& request, const TokenCallback& on_token);

  // One request, one reply.
  Result<v1::SessionList> list_sessions(std::uint32_t limit = 0);
  Result<v1::SessionDetail> show_session(const std::string& session_id);
  Status delete_session(const std::string& session_id);
  Result<v1::SessionExport> export_session(const std::string& session_id,
                                           const std::string& format = "json");
  Result<v1::StatusReply> status();
  Result<v1::ModelList> list_models();
  // Asks the daemon to drain and exit (owner, root or admin group; else kPermissionDenied).
  // Returns at its Ack; the daemon then closes this connection when the drain is done.
  Status shutdown();
  Result<v1::TokenizeReply> tokenize(const std::string& text, bool add_bos, bool special);
  Result<v1::DetokenizeReply> detokenize(std::span<const std::uint32_t> ids);

  Interrupter interrupter() const;
  // The connected socket (for poll loops of callers that multiplex themselves).
  int fd() const;

 private:
  struct State;
  explicit Client(std::unique_ptr<State> state);
  // send() for the reading helpers: a write that fails because the daemon closed returns the
  // connection-level Error it sent first, if any.
  Result<std::uint64_t> send_request(v1::ClientMessage message);
  Result<v1::ServerMessage> request(v1::ClientMessage message,
                                    v1::ServerMessage::BodyCase expected);
  Result<v1::Done> stream(v1::ClientMessage message, const TokenCallback& on_token);
  std::unique_ptr<State> state_;
};

}  // namespace gemmad::client
