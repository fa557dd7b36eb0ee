// Tests of the server transport on a real Unix socket: handshake, peer identity, protocol
// errors, freeing of dead connections, backpressure, client limit, stop, socket files.
#include "ipc/server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <stdexcept>
#include <thread>

#include "ipc/listen_socket.h"
#include "test_util.h"

namespace gemmad::ipc {
namespace {

using testing::FakeDaemon;
using testing::RawPeer;
using testing::TempDir;
using testing::TestServer;
using Outcome = RawPeer::ReadOutcome;

ServerOptions fast_options() {
  ServerOptions options;
  options.handshake_timeout = std::chrono::seconds(30);
  options.close_timeout = std::chrono::seconds(5);
  return options;
}

// Polls `predicate` every millisecond for at most 20 s; for states no handler reports.
bool eventually(const std::function<bool()>& predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Reads frames until one answers `request_id` with a body other than Token.
Outcome read_reply(RawPeer& peer, std::uint64_t request_id, v1::ServerMessage& out) {
  for (;;) {
    Outcome outcome = peer.read(out);
    if (outcome != Outcome::kMessage) return outcome;
    if (out.request_id() == request_id && !out.has_token()) return outcome;
  }
}

void expect_protocol_error_then_eof(RawPeer& peer, const std::vector<std::string>& mentions) {
  v1::ServerMessage reply;
  ASSERT_EQ(peer.read(reply), Outcome::kMessage);
  ASSERT_TRUE(reply.has_error()) << reply.DebugString();
  EXPECT_EQ(reply.error().code(), v1::ERROR_CODE_PROTOCOL);
  for (const auto& m : mentions) {
    EXPECT_NE(reply.error().message().find(m), std::string::npos)
        << "'" << reply.error().message() << "' does not mention " << m;
  }
  EXPECT_EQ(peer.read(reply), Outcome::kEof);
}

TEST(Server, AnswersHelloAndSeesThePeersUidGidAndPid) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello(7));
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  EXPECT_EQ(reply.request_id(), 7u);
  ASSERT_TRUE(reply.has_hello_reply());
  auto seen = ts.fake().snapshot();
  ASSERT_EQ(seen.peers.size(), 1u);
  EXPECT_EQ(seen.peers[0].uid, ::getuid());
  EXPECT_EQ(seen.peers[0].gid, ::getgid());
  EXPECT_EQ(seen.peers[0].pid, ::getpid());
  EXPECT_EQ(seen.app_names[0], "raw-test");
  EXPECT_EQ(ts.server().connection_count(), 1u);
}

TEST(Server, CreatesTheSocketFileWithMode0660) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  struct stat st {};
  ASSERT_EQ(::stat(ts.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(Server, AnswersGarbageBytesWithAProtocolErrorNamingTheLengthAndCloses) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  // "GET " read as a big-endian length is 1195725856.
  ASSERT_TRUE(peer->write_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  expect_protocol_error_then_eof(*peer, {"1195725856", "4194304"});
  EXPECT_TRUE(ts.fake().wait_until([](const auto& o) { return o.closed == 1; }));
  EXPECT_EQ(ts.server().connection_count(), 0u);
}

TEST(Server, AnswersAFrameThatIsNotAClientMessageWithAProtocolError) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->write_bytes(std::string("\0\0\0\x03\xff\xff\xff", 7)));
  expect_protocol_error_then_eof(*peer, {"3 bytes", "ClientMessage"});
}

TEST(Server, RequiresHelloAsTheFirstFrame) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  v1::ClientMessage status;
  status.set_request_id(3);
  status.mutable_status();
  ASSERT_TRUE(peer->write_message(status));
  expect_protocol_error_then_eof(*peer, {"Hello", "StatusRequest"});
  EXPECT_EQ(ts.fake().snapshot().hellos, 0);
}

TEST(Server, ClosesAConnectionThatSendsNoHelloWithinTheHandshakeTimeout) {
  ServerOptions options = fast_options();
  options.handshake_timeout = std::chrono::milliseconds(100);
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  expect_protocol_error_then_eof(*peer, {"no Hello within 100 ms"});
}

TEST(Server, FreesAConnectionWhosePeerLeftInTheMiddleOfAFrame) {
  TestServer ts(fast_options());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.opened == 1; }));
  std::weak_ptr<Connection> conn = ts.fake().snapshot().last_opened;
  v1::ClientMessage chat;
  chat.set_request_id(2);
  chat.mutable_chat()->set_user_text(std::string(1000, 'x'));
  auto frame = encode_message_frame(chat);
  ASSERT_TRUE(frame.ok());
  ASSERT_TRUE(peer->write_bytes(frame->substr(0, frame->size() / 2)));
  peer->close();
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.closed == 1; }));
  EXPECT_EQ(ts.server().connection_count(), 0u);
  // Nothing (server, coroutines, timers) keeps the connection alive any more. The last
  // coroutine frame lets go right after on_close, on the io thread: poll for it.
  EXPECT_TRUE(eventually([&] { return conn.expired(); }));
}

TEST(Server, TellsClientsOverTheLimitItIsBusyAndAdmitsThemAgainOnceOneLeaves) {
  ServerOptions options = fast_options();
  options.max_clients = 2;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto a = RawPeer::connect(ts.path());
  auto b = RawPeer::connect(ts.path());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.opened == 2; }));
  auto c = RawPeer::connect(ts.path());
  ASSERT_TRUE(c);
  v1::ServerMessage reply;
  ASSERT_EQ(c->read(reply), Outcome::kMessage);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.error().code(), v1::ERROR_CODE_BUSY);
  EXPECT_EQ(reply.request_id(), 0u);
  EXPECT_NE(reply.error().message().find("2 clients"), std::string::npos);
  EXPECT_EQ(c->read(reply), Outcome::kEof);
  EXPECT_EQ(ts.fake().snapshot().opened, 2);  // the refused one never reached the handler

  a->close();
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.closed == 1; }));
  auto d = RawPeer::connect(ts.path());
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->send_hello());
  ASSERT_EQ(d->read(reply), Outcome::kMessage);
  EXPECT_TRUE(reply.has_hello_reply());
}

// Starts a stream of `tokens` tokens of `text` on `peer` (after Hello).
void start_stream(RawPeer& peer, std::uint64_t request_id, std::uint32_t tokens,
                  const std::string& text, const std::string& title = "") {
  v1::ClientMessage chat;
  chat.set_request_id(request_id);
  chat.mutable_chat()->set_user_text(text);
  chat.mutable_chat()->set_title(title);
  chat.mutable_chat()->mutable_sampling()->set_max_tokens(tokens);
  ASSERT_TRUE(peer.write_message(chat));
}

TEST(Server, PausesTheStreamOfAClientThatDoesNotReadWithoutBlockingOthers) {
  ServerOptions options = fast_options();
  options.max_frame_bytes = 16 * 1024;
  options.send_queue_soft_bytes = 32 * 1024;
  options.send_queue_hard_bytes = 64 * 1024;
  options.socket_send_buffer_bytes = 4096;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();

  auto slow = RawPeer::connect(ts.path());
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(slow->read(reply), Outcome::kMessage);
  // 4000 tokens of 1 KiB = 4 MB: far more than the socket buffer plus the queue.
  const std::uint32_t kTokens = 4000;
  start_stream(*slow, 2, kTokens, std::string(1024, 't'));
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.full_reports >= 1; }))
      << "the producer never saw backpressure";

  // Another client is served while the slow one's stream is paused.
  auto other = RawPeer::connect(ts.path());
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->send_hello(1));
  v1::ClientMessage status;
  status.set_request_id(9);
  status.mutable_status();
  ASSERT_TRUE(other->write_message(status));
  ASSERT_EQ(read_reply(*other, 9, reply), Outcome::kMessage);
  ASSERT_TRUE(reply.has_status_reply()) << reply.DebugString();
  EXPECT_EQ(reply.status_reply().clients_connected(), 2u);

  // Memory for the slow client stayed under the soft limit plus one frame.
  auto seen = ts.fake().snapshot();
  EXPECT_LE(seen.max_queued_bytes, options.send_queue_soft_bytes + 1100);
  EXPECT_EQ(seen.closed_reports, 0);

  // Once it reads, the stream resumes and delivers every token, in order, then Done.
  std::uint32_t next_index = 0;
  for (;;) {
    ASSERT_EQ(slow->read(reply), Outcome::kMessage);
    if (reply.has_done()) break;
    ASSERT_TRUE(reply.has_token()) << reply.DebugString();
    ASSERT_EQ(reply.token().index(), next_index);
    ++next_index;
  }
  EXPECT_EQ(next_index, kTokens);
  EXPECT_EQ(reply.done().usage().completion_tokens(), kTokens);
  EXPECT_GE(ts.fake().snapshot().writable_calls, 1);
}

TEST(Server, ClosesAClientWhoseQueuePassesTheHardLimitWhenTheProducerIgnoresBackpressure) {
  ServerOptions options = fast_options();
  options.max_frame_bytes = 16 * 1024;
  options.send_queue_soft_bytes = 32 * 1024;
  options.send_queue_hard_bytes = 64 * 1024;
  options.socket_send_buffer_bytes = 4096;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto slow = RawPeer::connect(ts.path());
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(slow->read(reply), Outcome::kMessage);
  start_stream(*slow, 2, 100'000, std::string(1024, 't'), "ignore-backpressure");
  // on_close (io thread) and the producer's kClosed (its own thread) may come in any order.
  ASSERT_TRUE(
      ts.fake().wait_until([](const auto& o) { return o.closed == 1 && o.closed_reports == 1; }));
  auto seen = ts.fake().snapshot();
  EXPECT_EQ(seen.closed_reports, 1);
  EXPECT_LE(seen.max_queued_bytes, options.send_queue_hard_bytes);
  EXPECT_EQ(ts.server().connection_count(), 0u);
}

TEST(Server, SurvivesAPeerThatLeavesInTheMiddleOfAStreamAndStopsItsProducer) {
  ServerOptions options = fast_options();
  options.socket_send_buffer_bytes = 4096;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  start_stream(*peer, 2, 1'000'000, std::string(512, 't'));
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);  // the stream is flowing
  peer->close();  // writes to it now fail with EPIPE, which must not be a SIGPIPE
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.closed == 1; }));
  EXPECT_EQ(ts.server().connection_count(), 0u);
  // The server still serves others.
  auto other = RawPeer::connect(ts.path());
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->send_hello());
  ASSERT_EQ(other->read(reply), Outcome::kMessage);
  EXPECT_TRUE(reply.has_hello_reply());
}

TEST(Server, TurnsAThrowingHandlerIntoAnInternalErrorForThatRequestOnly) {
  TestServer ts(fast_options(), [](ServerHandlers& h) {
    auto inner = h.on_message;
    h.on_message = [inner](const std::shared_ptr<Connection>& conn, v1::ClientMessage m) {
      if (m.has_status()) throw std::runtime_error("status exploded");
      inner(conn, std::move(m));
    };
  });
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  v1::ClientMessage status;
  status.set_request_id(5);
  status.mutable_status();
  ASSERT_TRUE(peer->write_message(status));
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  ASSERT_TRUE(reply.has_error());
  EXPECT_EQ(reply.request_id(), 5u);
  EXPECT_EQ(reply.error().code(), v1::ERROR_CODE_INTERNAL);
  EXPECT_NE(reply.error().message().find("status exploded"), std::string::npos);
  v1::ClientMessage list;
  list.set_request_id(6);
  list.mutable_list_sessions();
  ASSERT_TRUE(peer->write_message(list));
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  EXPECT_TRUE(reply.has_session_list());
}

TEST(Server, StopFlushesQueuedRepliesClosesClientsAndRemovesTheSocketFile) {
  ServerOptions options = fast_options();
  options.max_frame_bytes = 16 * 1024;
  options.send_queue_soft_bytes = 32 * 1024;
  options.send_queue_hard_bytes = 64 * 1024;
  options.close_timeout = std::chrono::seconds(30);
  // A tiny socket buffer: once the queue is full the writer is stuck, so frames are really
  // queued (not in the kernel) when stop() comes.
  options.socket_send_buffer_bytes = 4096;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  // The peer does not read until its queue is full, so frames are queued when stop() comes.
  start_stream(*peer, 2, 4000, std::string(1024, 't'));
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.full_reports >= 1; }));
  std::shared_ptr<Connection> conn = ts.fake().snapshot().last_opened.lock();
  ASSERT_TRUE(conn);
  std::promise<void> stopped;
  ts.server().stop([&] { stopped.set_value(); });
  // Read only once the close began, so the flush is what delivers the queue.
  ASSERT_TRUE(eventually([&] { return conn->closing(); }));
  conn.reset();
  // Every frame queued before the stop reaches the peer, then EOF.
  std::uint32_t tokens = 0;
  Outcome outcome;
  while ((outcome = peer->read(reply)) == Outcome::kMessage) {
    ASSERT_TRUE(reply.has_token()) << reply.DebugString();
    EXPECT_EQ(reply.token().index(), tokens++);
  }
  EXPECT_EQ(outcome, Outcome::kEof);
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto seen = ts.fake().snapshot();
  EXPECT_EQ(tokens, seen.tokens_queued);
  EXPECT_LT(tokens, 4000u);
  EXPECT_EQ(seen.closed, 1);
  struct stat st {};
  EXPECT_NE(::stat(ts.path().c_str(), &st), 0) << "socket file still there";
  EXPECT_FALSE(RawPeer::connect(ts.path()));
}

TEST(ListenUnixSocket, ReplacesAStaleSocketFileNobodyListensOn) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  {
    auto first = listen_unix_socket(path, 0600, 4);
    ASSERT_TRUE(first.ok()) << first.error().message;
    ::close(first->fd);  // the file stays, nobody listens: a crashed daemon's leftover
  }
  auto second = listen_unix_socket(path, 0600, 4);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(RawPeer::connect(path).has_value());
  ::close(second->fd);
}

TEST(ListenUnixSocket, RefusesAPathAnotherProcessListensOn) {
  TempDir dir;
  const std::string path = dir.file("live.sock");
  auto first = listen_unix_socket(path, 0600, 4);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = listen_unix_socket(path, 0600, 4);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("listening"), std::string::npos);
  EXPECT_TRUE(RawPeer::connect(path).has_value()) << "the live socket must survive";
  ::close(first->fd);
}

TEST(ListenUnixSocket, LeavesAFileThatIsNotASocketAlone) {
  TempDir dir;
  const std::string path = dir.file("notes.txt");
  std::ofstream(path) << "keep me";
  auto result = listen_unix_socket(path, 0600, 4);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST(ListenUnixSocket, RejectsAPathLongerThanSunPathNamingTheLimit) {
  auto result = listen_unix_socket("/tmp/" + std::string(200, 'p'), 0600, 4);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("205 bytes"), std::string::npos);
  EXPECT_NE(result.error().message.find("107"), std::string::npos);
}

TEST(ServerAdopt, ServesClientsOnAnInheritedListeningFd) {
  TempDir dir;
  const std::string path = dir.file("activated.sock");
  auto listening = listen_unix_socket(path, 0600, 4);
  ASSERT_TRUE(listening.ok());
  boost::asio::io_context io;
  FakeDaemon fake;
  auto server = Server::adopt(io, listening->fd, fast_options(), fake.handlers());
  ASSERT_TRUE(server.ok()) << server.error().message;
  (*server)->start();
  std::thread runner([&] { io.run(); });
  auto peer = RawPeer::connect(path);
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->send_hello());
  v1::ServerMessage reply;
  ASSERT_EQ(peer->read(reply), Outcome::kMessage);
  EXPECT_TRUE(reply.has_hello_reply());
  std::promise<void> stopped;
  (*server)->stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  runner.join();  // nothing left to do: run() returns
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << "an adopted socket's file belongs to its creator";
}

TEST(ServerAdopt, RejectsAnFdThatIsNotAListeningUnixSocket) {
  boost::asio::io_context io;
  FakeDaemon fake;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto server = Server::adopt(io, fds[0], fast_options(), fake.handlers());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("not a socket"), std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(ServerOptionsCheck, RequiresRoomForOneFrameAboveTheSoftLimit) {
  ServerOptions options;
  options.send_queue_hard_bytes = options.send_queue_soft_bytes + 10;
  Status status = validate_server_options(options);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("send_queue_hard_bytes"), std::string::npos);
  EXPECT_TRUE(validate_server_options(ServerOptions{}).ok());
}

}  // namespace
}  // namespace gemmad::ipc
