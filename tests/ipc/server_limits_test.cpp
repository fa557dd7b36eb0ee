// The transport's bounds against hostile peers, on a real Unix socket: idle, frame and write
// timeouts; the client limit shared by uid (an idle connection of the biggest holder makes
// room for another uid); the per-uid limit; and the protocol rules the transport enforces
// itself (Hello checks, unknown bodies, invalid UTF-8 named by field, one final reply even
// when it is too large for a frame).
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "ipc/peer_identity.h"
#include "test_util.h"

namespace gemmad::ipc {
namespace {

using testing::RawPeer;
using testing::TestServer;
using Outcome = RawPeer::ReadOutcome;
using std::chrono::milliseconds;

ServerOptions options_for_test() {
  ServerOptions options;
  options.handshake_timeout = std::chrono::seconds(30);
  options.close_timeout = std::chrono::seconds(5);
  return options;
}

// A connected peer that said Hello and got its HelloReply.
std::optional<RawPeer> hello_peer(const std::string& path) {
  auto peer = RawPeer::connect(path);
  if (!peer || !peer->send_hello()) return std::nullopt;
  v1::ServerMessage reply;
  if (peer->read(reply) != Outcome::kMessage || !reply.has_hello_reply()) return std::nullopt;
  return peer;
}

v1::ServerMessage expect_message(RawPeer& peer) {
  v1::ServerMessage reply;
  EXPECT_EQ(peer.read(reply), Outcome::kMessage);
  return reply;
}

void expect_error(const v1::ServerMessage& reply, v1::ErrorCode code, std::uint64_t request_id,
                  const std::string& mention) {
  ASSERT_TRUE(reply.has_error()) << reply.DebugString();
  EXPECT_EQ(reply.error().code(), code) << reply.error().message();
  EXPECT_EQ(reply.request_id(), request_id);
  EXPECT_NE(reply.error().message().find(mention), std::string::npos)
      << "'" << reply.error().message() << "' does not mention '" << mention << "'";
}

bool status_answered(RawPeer& peer, std::uint64_t request_id) {
  v1::ClientMessage status;
  status.set_request_id(request_id);
  status.mutable_status();
  if (!peer.write_message(status)) return false;
  v1::ServerMessage reply;
  return peer.read(reply) == Outcome::kMessage && reply.has_status_reply();
}

TEST(ServerTimeouts, ClosesAConnectionIdleAfterHelloButNotOneWithARequestInFlight) {
  ServerOptions options = options_for_test();
  options.idle_timeout = milliseconds(200);
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto idle = hello_peer(ts.path());
  auto busy = hello_peer(ts.path());
  ASSERT_TRUE(idle && busy);
  // One token, then the stream waits for a Cancel: a request stays in flight.
  v1::ClientMessage chat;
  chat.set_request_id(2);
  chat.mutable_chat()->set_user_text("t");
  chat.mutable_chat()->set_title("wait-for-cancel");
  ASSERT_TRUE(busy->write_message(chat));
  EXPECT_TRUE(expect_message(*busy).has_token());

  expect_error(expect_message(*idle), v1::ERROR_CODE_CANCELLED, 0, "idle for 200 ms");
  v1::ServerMessage reply;
  EXPECT_EQ(idle->read(reply), Outcome::kEof);
  // Three timeouts later the busy one still answers.
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_TRUE(status_answered(*busy, 3));
  const auto log = ts.fake().snapshot().log;
  int idle_lines = 0;
  for (const auto& line : log)
    idle_lines += line.find("idle for") != std::string::npos;
  EXPECT_EQ(idle_lines, 1);  // logged once, for the one connection
}

TEST(ServerTimeouts, ClosesAPeerThatDribblesAFrameOneByteAtATime) {
  ServerOptions options = options_for_test();
  options.frame_timeout = milliseconds(300);
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = hello_peer(ts.path());
  ASSERT_TRUE(peer);
  v1::ClientMessage status;
  status.set_request_id(9);
  status.mutable_status();
  auto bytes = encode_message_frame(status);
  ASSERT_TRUE(bytes.ok());
  // Each byte comes well within the timeout (one every 100 ms); the frame as a whole does
  // not. Waiting for a reply between bytes is the pause, so the test stops at the answer.
  v1::ServerMessage reply;
  Outcome outcome = Outcome::kTimeout;
  for (char c : *bytes) {
    ASSERT_TRUE(peer->write_bytes(std::string_view(&c, 1)));
    outcome = peer->read(reply, milliseconds(100));
    if (outcome != Outcome::kTimeout) break;
  }
  ASSERT_EQ(outcome, Outcome::kMessage);
  expect_error(reply, v1::ERROR_CODE_PROTOCOL, 0, "frame not complete within 300 ms");
}

TEST(ServerTimeouts, DisconnectsAClientThatNeverReadsItsReply) {
  ServerOptions options = options_for_test();
  options.write_timeout = milliseconds(300);
  options.socket_send_buffer_bytes = 4096;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = hello_peer(ts.path());
  ASSERT_TRUE(peer);
  // The fake answers one id per byte: a reply of ~1 MiB the peer never reads.
  v1::ClientMessage tokenize;
  tokenize.set_request_id(2);
  tokenize.mutable_tokenize()->set_text(std::string(1 << 20, 'a'));
  ASSERT_TRUE(peer->write_message(tokenize));
  ASSERT_TRUE(ts.fake().wait_until([](const auto& o) { return o.closed == 1; }));
  bool logged = false;
  for (const auto& line : ts.fake().snapshot().log)
    logged |= line.find("took no data for 300 ms") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST(ServerLimits, RefusesAUidPastItsConnectionLimit) {
  ServerOptions options = options_for_test();
  options.max_clients = 8;
  options.max_clients_per_uid = 2;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto a = hello_peer(ts.path());
  auto b = hello_peer(ts.path());
  ASSERT_TRUE(a && b);
  auto c = RawPeer::connect(ts.path());
  ASSERT_TRUE(c);
  expect_error(expect_message(*c), v1::ERROR_CODE_BUSY, 0, "server.max_clients_per_uid 2");
}

// Connects as `uid` in a child process; returns 0 when Hello was answered with HelloReply.
int hello_as_uid(const std::string& path, uid_t uid) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
      _exit(2);
    }
    auto peer = hello_peer(path);
    _exit(peer ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

TEST(ServerLimits, AFullServerClosesAnIdleConnectionOfTheBiggestHolderForANewUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to connect as a second uid";
  ServerOptions options = options_for_test();
  options.max_clients = 4;
  options.max_clients_per_uid = 8;  // the total limit is the one reached
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  ::chmod(ts.dir().file("").c_str(), 0755);
  ::chmod(ts.path().c_str(), 0666);
  std::vector<RawPeer> hog;
  for (int i = 0; i < 4; ++i) {
    auto p = hello_peer(ts.path());
    ASSERT_TRUE(p);
    hog.push_back(std::move(*p));
  }
  // The hog's own fifth connection is refused: it holds the most already.
  auto fifth = RawPeer::connect(ts.path());
  ASSERT_TRUE(fifth);
  expect_error(expect_message(*fifth), v1::ERROR_CODE_BUSY, 0, "4 clients connected");
  // Another uid is served, and exactly one hog connection made room.
  EXPECT_EQ(hello_as_uid(ts.path(), 47112), 0);
  int evicted = 0;
  for (auto& p : hog) {
    v1::ServerMessage reply;
    if (p.read(reply, milliseconds(200)) == Outcome::kMessage && reply.has_error()) {
      expect_error(reply, v1::ERROR_CODE_BUSY, 0, "closed to make room");
      ++evicted;
    }
  }
  EXPECT_EQ(evicted, 1);
}

TEST(ServerProtocol, RefusesAHelloWithABadAppNameOrVersionAndKeepsTheConnection) {
  TestServer ts(options_for_test());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = RawPeer::connect(ts.path());
  ASSERT_TRUE(peer);
  v1::ClientMessage hello;
  hello.set_request_id(1);
  hello.mutable_hello()->set_app_name(std::string(kMaxAppNameBytes + 1, 'n'));
  hello.mutable_hello()->set_protocol_version(kProtocolVersion);
  ASSERT_TRUE(peer->write_message(hello));
  expect_error(expect_message(*peer), v1::ERROR_CODE_INVALID_ARGUMENT, 1,
               "Hello.app_name is 129 bytes; it must be 1 to 128");
  hello.set_request_id(2);
  hello.mutable_hello()->set_app_name("ok");
  for (std::uint32_t version : {0u, kProtocolVersion + 1}) {
    hello.mutable_hello()->set_protocol_version(version);
    ASSERT_TRUE(peer->write_message(hello));
    expect_error(expect_message(*peer), v1::ERROR_CODE_UNSUPPORTED, 2,
                 "Hello.protocol_version " + std::to_string(version) +
                     " is outside the supported range [1, " + std::to_string(kProtocolVersion) +
                     "]");
  }
  EXPECT_EQ(ts.fake().snapshot().hellos, 0);  // none reached the daemon
  ASSERT_TRUE(peer->send_hello(3));
  EXPECT_TRUE(expect_message(*peer).has_hello_reply());
}

TEST(ServerProtocol, AnswersAMessageWithoutAKnownBodyUnsupportedAndKeepsTheConnection) {
  TestServer ts(options_for_test());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = hello_peer(ts.path());
  ASSERT_TRUE(peer);
  // request_id 5 and an unknown field 999 (a body from a newer protocol).
  const std::string unknown = std::string("\x08\x05", 2) + "\xba\x3e\x01x";
  ASSERT_TRUE(peer->write_bytes(*encode_frame(unknown)));
  expect_error(expect_message(*peer), v1::ERROR_CODE_UNSUPPORTED, 5, "no body this daemon knows");
  EXPECT_TRUE(status_answered(*peer, 6));
}

// A varint of `value` (wire format).
std::string varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string length_delimited(int field, const std::string& bytes) {
  return varint(static_cast<std::uint64_t>(field) << 3 | 2) + varint(bytes.size()) + bytes;
}

TEST(ServerProtocol, NamesTheFieldThatIsNotUtf8AndKeepsTheConnection) {
  TestServer ts(options_for_test());
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = hello_peer(ts.path());
  ASSERT_TRUE(peer);
  // ClientMessage{request_id: 7, chat: {user_text: "ok\xff"}}, built by hand: protobuf will not
  // serialize a bad string for us.
  const std::string chat = length_delimited(v1::ChatRequest::kUserTextFieldNumber, "ok\xff");
  const std::string message = varint(v1::ClientMessage::kRequestIdFieldNumber << 3) + varint(7) +
                              length_delimited(v1::ClientMessage::kChatFieldNumber, chat);
  ASSERT_TRUE(peer->write_bytes(*encode_frame(message)));
  expect_error(expect_message(*peer), v1::ERROR_CODE_INVALID_ARGUMENT, 7,
               "field gemmad.v1.ChatRequest.user_text is not valid UTF-8");
  EXPECT_TRUE(status_answered(*peer, 8));
}

TEST(ServerProtocol, AFinalReplyTooLargeForAFrameBecomesOneTooLargeError) {
  ServerOptions options = options_for_test();
  options.max_frame_bytes = 1024;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  auto peer = hello_peer(ts.path());
  ASSERT_TRUE(peer);
  // 900 bytes in, one two-byte id per byte out: the reply is about twice the limit.
  std::string text;
  for (int i = 0; i < 450; ++i)
    text += "\xc3\xa9";
  v1::ClientMessage tokenize;
  tokenize.set_request_id(4);
  tokenize.mutable_tokenize()->set_text(text);
  ASSERT_TRUE(peer->write_message(tokenize));
  expect_error(expect_message(*peer), v1::ERROR_CODE_TOO_LARGE, 4, "TokenizeReply");
  EXPECT_TRUE(status_answered(*peer, 5));  // one reply for request 4, nothing else queued
}

TEST(PeerIdentity, RefusesTheOverflowUidOrGid) {
  const OverflowIds overflow{65534, 65533};
  EXPECT_TRUE(check_peer_identity({1000, 1000, 1}, overflow).ok());
  auto uid = check_peer_identity({65534, 1000, 1}, overflow);
  ASSERT_FALSE(uid.ok());
  EXPECT_EQ(uid.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(uid.error().message.find("uid reads as 65534"), std::string::npos);
  auto gid = check_peer_identity({1000, 65533, 1}, overflow);
  ASSERT_FALSE(gid.ok());
  EXPECT_NE(gid.error().message.find("gid reads as 65533"), std::string::npos);
}

TEST(PeerIdentity, TellsAFullIdentityMapFromAPrivateUsersOne) {
  auto all = parse_uid_map("         0          0 4294967295\n");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->maps_all);
  auto two = parse_uid_map("0 0 1\n999 999 1\n");
  ASSERT_TRUE(two.ok());
  EXPECT_FALSE(two->maps_all);
  EXPECT_EQ(two->mapped_ids, 2u);
  EXPECT_NE(two->summary.find("maps only 2 uid(s)"), std::string::npos) << two->summary;
  auto bad = parse_uid_map("0 zero 1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 1"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::ipc
