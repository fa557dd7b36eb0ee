// Tests of gemmad_client against the server transport and FakeDaemon on a real socket:
// connect errors, helpers, streaming, interrupt (also from a signal handler), timeouts.
#include "clients/cpp/client.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <future>

#include "ipc/listen_socket.h"
#include "test_util.h"

namespace gemmad::client {
namespace {

using ipc::testing::TempDir;
using ipc::testing::TestServer;

Client connected(TestServer& ts) {
  auto client = Client::connect(ts.path());
  EXPECT_TRUE(client.ok()) << client.error().message;
  auto hello = client->hello("client-test");
  EXPECT_TRUE(hello.ok()) << hello.error().message;
  return std::move(client).value();
}

TEST(ClientConnect, ReportsNotFoundWhenNoSocketExists) {
  TempDir dir;
  auto client = Client::connect(dir.file("absent.sock"));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kNotFound);
  EXPECT_NE(client.error().message.find("absent.sock"), std::string::npos);
}

TEST(ClientConnect, ReportsNotFoundForAStaleSocketNobodyListensOn) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  auto listening = ipc::listen_unix_socket(path, 0600, 1);
  ASSERT_TRUE(listening.ok());
  ::close(listening->fd);
  auto client = Client::connect(path);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kNotFound);
}

TEST(ClientConnect, RejectsAPathTooLongForSunPath) {
  auto client = Client::connect("/tmp/" + std::string(150, 'x'));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
}

TEST(Client, HelloReturnsTheDaemonsModelAndLimits) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  EXPECT_EQ(client.server_hello().model().name(), "fake-model");
  EXPECT_EQ(client.server_hello().protocol_version(), ipc::kProtocolVersion);
  EXPECT_EQ(ts.fake().snapshot().app_names.at(0), "client-test");
}

TEST(Client, ChatDeliversEveryTokenInOrderThenDone) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  v1::ChatRequest request;
  request.set_user_text("hi ");
  request.mutable_sampling()->set_max_tokens(50);
  std::string text;
  std::uint32_t next_index = 0;
  auto done = client.chat(request, [&](const v1::Token& token) {
    EXPECT_EQ(token.index(), next_index++);
    text += token.text();
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->stop_reason(), v1::STOP_REASON_MAX_TOKENS);
  EXPECT_EQ(done->usage().completion_tokens(), 50u);
  EXPECT_EQ(next_index, 50u);
  EXPECT_EQ(text.size(), 150u);
}

TEST(Client, RequestHelpersReturnTheirReplies) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  auto list = client.list_sessions();
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->sessions_size(), 2);
  EXPECT_EQ(list->sessions(0).id(), "s2");
  auto status = client.status();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->pid(), static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(status->clients_connected(), 1u);
  auto ids = client.tokenize("AB", false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(std::vector<std::uint32_t>(ids->ids().begin(), ids->ids().end()),
            (std::vector<std::uint32_t>{65, 66}));
  const std::uint32_t back[] = {104, 105};
  auto text = client.detokenize(back);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->text(), "hi");
  EXPECT_TRUE(client.delete_session("s1").ok());
  EXPECT_TRUE(client.shutdown().ok());
  auto exported = client.export_session("s1");
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->session_id(), "s1");
}

TEST(Client, MapsADaemonErrorToItsErrorCodeAndMessage) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  auto detail = client.show_session("nope");
  ASSERT_FALSE(detail.ok());
  EXPECT_EQ(detail.error().code, ErrorCode::kNotFound);
  EXPECT_NE(detail.error().message.find("'nope'"), std::string::npos);
  // The connection is still usable.
  EXPECT_TRUE(client.show_session("s1").ok());
}

TEST(Client, ReportsBusyFromHelloWhenTheDaemonIsFull) {
  ipc::ServerOptions options;
  options.max_clients = 1;
  TestServer ts(options);
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client first = connected(ts);
  auto second = Client::connect(ts.path());
  ASSERT_TRUE(second.ok());
  auto hello = second->hello("late");
  ASSERT_FALSE(hello.ok());
  EXPECT_EQ(hello.error().code, ErrorCode::kResourceExhausted);
}

TEST(Client, NextForReturnsNothingWhenNoFrameArrivesInTime) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  auto message = client.next_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(message.ok());
  EXPECT_FALSE(message->has_value());
}

TEST(Client, InterruptDuringChatSendsCancelAndReturnsTheCancelledDone) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  v1::ChatRequest request;
  request.set_user_text("x");
  request.set_title("wait-for-cancel");  // FakeDaemon: one token, then wait for Cancel
  request.mutable_sampling()->set_max_tokens(1000);
  const Interrupter interrupter = client.interrupter();
  int tokens = 0;
  auto done = client.chat(request, [&](const v1::Token&) {
    ++tokens;
    interrupter.trigger();
  });
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->stop_reason(), v1::STOP_REASON_CANCELLED);
  EXPECT_EQ(tokens, 1);
  auto seen = ts.fake().snapshot();
  ASSERT_EQ(seen.cancel_targets.size(), 1u);
  // The chat was the client's second request (Hello was 1).
  EXPECT_EQ(seen.cancel_targets[0], 2u);
}

Interrupter g_interrupter;
void on_sigusr1(int) {
  g_interrupter.trigger();
}

TEST(Client, InterruptFromASignalHandlerCancelsTheStream) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  g_interrupter = client.interrupter();
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = on_sigusr1;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  v1::ChatRequest request;
  request.set_user_text("x");
  request.set_title("wait-for-cancel");
  request.mutable_sampling()->set_max_tokens(1000);
  auto done = client.chat(request, [&](const v1::Token&) { ::raise(SIGUSR1); });
  ::sigaction(SIGUSR1, &previous, nullptr);
  g_interrupter = Interrupter();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->stop_reason(), v1::STOP_REASON_CANCELLED);
}

TEST(Client, AnInterruptOutsideAStreamEndsTheNextRead) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  client.interrupter().trigger();
  auto message = client.next();
  ASSERT_FALSE(message.ok());
  EXPECT_EQ(message.error().code, ErrorCode::kCancelled);
  // The interrupt was consumed: the connection works as before.
  EXPECT_TRUE(client.status().ok());
}

TEST(Client, CancelFromAnotherThreadStopsAStream) {
  TestServer ts;
  ASSERT_TRUE(ts.ok()) << ts.error();
  Client client = connected(ts);
  v1::ClientMessage chat;
  chat.mutable_chat()->set_user_text("x");
  chat.mutable_chat()->set_title("wait-for-cancel");
  auto id = client.send(chat);
  ASSERT_TRUE(id.ok());
  auto first = client.next();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_token());
  std::thread canceller([&] { EXPECT_TRUE(client.cancel(*id).ok()); });
  canceller.join();
  bool saw_ack = false, saw_done = false;
  while (!(saw_ack && saw_done)) {
    auto m = client.next();
    ASSERT_TRUE(m.ok()) << m.error().message;
    if (m->has_ack()) saw_ack = true;
    if (m->has_done()) {
      EXPECT_EQ(m->request_id(), *id);
      EXPECT_EQ(m->done().stop_reason(), v1::STOP_REASON_CANCELLED);
      saw_done = true;
    }
  }
}

TEST(Client, ReportsTheDaemonGoingAwayAsAnIoError) {
  auto ts = std::make_unique<TestServer>();
  ASSERT_TRUE(ts->ok()) << ts->error();
  Client client = connected(*ts);
  std::promise<void> stopped;
  ts->server().stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  auto status = client.status();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace gemmad::client
