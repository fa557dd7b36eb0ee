// The service end to end: a real gemmad process, a real Unix socket, a real SQLite file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include "daemon_process.h"
#include "ipc/protocol.h"
#include "raw_wire.h"

namespace gemmad::testing {
namespace {

using Clock = std::chrono::steady_clock;

v1::ChatRequest chat_request(const std::string& text, const std::string& session = "",
                             uint32_t max_tokens = 16) {
  v1::ChatRequest r;
  r.set_session_id(session);
  r.set_new_session(session.empty());
  r.set_user_text(text);
  r.mutable_sampling()->set_temperature(0.0f);
  r.mutable_sampling()->set_max_tokens(max_tokens);
  return r;
}

// A turn that streams until the test stops it: no stop token can end it early.
v1::ChatRequest long_chat_request(const std::string& text, const std::string& session = "",
                                  uint32_t max_tokens = 900) {
  v1::ChatRequest r = chat_request(text, session, max_tokens);
  r.mutable_sampling()->set_ignore_eos(true);
  return r;
}

// Sends a streaming chat and returns its request id once `n` tokens of it have arrived.
uint64_t start_streaming(client::Client& c, const v1::ChatRequest& request, int n) {
  v1::ClientMessage m;
  *m.mutable_chat() = request;
  auto id = c.send(m);
  EXPECT_TRUE(id.ok());
  if (!id.ok()) return 0;
  for (int got = 0; got < n;) {
    auto msg = c.next();
    EXPECT_TRUE(msg.ok());
    if (!msg.ok()) return 0;
    EXPECT_FALSE(msg->has_done() || msg->has_error()) << msg->DebugString();
    if (msg->has_done() || msg->has_error()) return 0;
    got += msg->has_token();
  }
  return *id;
}

v1::StatusReply status_of(const DaemonProcess& d) {
  auto c = d.connect("status-probe");
  auto s = c.status();
  EXPECT_TRUE(s.ok());
  return s.ok() ? *s : v1::StatusReply{};
}

TEST(TheService, ServesFourClientsOfTwoAppsAtOnceWithSharedDecodeSteps) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  std::atomic<int> done{0};
  std::vector<std::string> sessions(4);
  std::vector<std::thread> threads;
  // Connected first, then all ask at once, each for 200 tokens: the turns overlap even on a
  // loaded machine, where the tiny model's short turns could otherwise run one after another.
  std::latch connected(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto c = d.connect(i % 2 == 0 ? "app-a" : "app-b");
      connected.arrive_and_wait();
      std::string text;
      auto r = c.chat(long_chat_request("hello number " + std::to_string(i), "", 200),
                      [&](const v1::Token& t) { text += t.text(); });
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_GT(r->usage().completion_tokens(), 0u);
      sessions[i] = r->session_id();
      // A second turn in the same session.
      auto r2 = c.chat(chat_request("and again", sessions[i], 8), [](const v1::Token&) {});
      ASSERT_TRUE(r2.ok()) << r2.error().message;
      EXPECT_EQ(r2->session_id(), sessions[i]);
      ++done;
    });
  }
  for (auto& t : threads)
    t.join();
  ASSERT_EQ(done.load(), 4);

  // Each app sees exactly its own two sessions.
  for (const char* app : {"app-a", "app-b"}) {
    auto c = d.connect(app);
    auto list = c.list_sessions();
    ASSERT_TRUE(list.ok());
    std::set<std::string> ids;
    for (const auto& s : list->sessions())
      ids.insert(s.id());
    const int first = std::string(app) == "app-a" ? 0 : 1;
    EXPECT_EQ(ids, (std::set<std::string>{sessions[first], sessions[first + 2]}));
    for (const auto& s : list->sessions())
      EXPECT_EQ(s.turns(), 2u);
    // The other app's session reads as missing.
    auto other = c.show_session(sessions[1 - first]);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  }
  // Decode steps were shared: some step carried more than one sequence.
  const v1::StatusReply st = status_of(d);
  uint64_t shared = 0;
  for (const auto& h : st.batch().histogram()) {
    if (h.batch_size() >= 2) shared += h.steps();
  }
  EXPECT_GT(shared, 0u) << st.DebugString();
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST(TheService, ContinuesAConversationAfterARestart) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  std::string session;
  {
    auto c = d.connect("notes");
    auto r = c.chat(chat_request("remember the number 42"), [](const v1::Token&) {});
    ASSERT_TRUE(r.ok()) << r.error().message;
    session = r->session_id();
  }
  ASSERT_EQ(d.stop(), 0) << d.log();
  ASSERT_TRUE(d.start());
  auto c = d.connect("notes");
  auto shown = c.show_session(session);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  ASSERT_EQ(shown->messages_size(), 2);
  EXPECT_EQ(shown->messages(0).text(), "remember the number 42");
  auto r = c.chat(chat_request("what was it?", session), [](const v1::Token&) {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  // The saved KV of the session (docs/KV_CACHE.md "Saved KV"): only the new text is prefilled.
  EXPECT_GT(r->usage().cached_tokens(), 0u) << r->DebugString();
  // The next turn reuses the in-memory KV of this session: only the new text is prefilled.
  auto r2 = c.chat(chat_request("thanks", session), [](const v1::Token&) {});
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_GT(r2->usage().cached_tokens(), r->usage().prompt_tokens() / 2) << r2->DebugString();
  shown = c.show_session(session);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->messages_size(), 6);
}

TEST(TheService, KeepsEveryAcknowledgedTurnWhenKilledMidStream) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("crashy");
  auto first = c.chat(chat_request("first turn"), [](const v1::Token&) {});
  ASSERT_TRUE(first.ok());
  const std::string session = first->session_id();
  // Start a long turn and kill the daemon once tokens flow.
  ASSERT_NE(start_streaming(c, long_chat_request("a long second turn", session), 5), 0u);
  d.kill9();
  ASSERT_TRUE(d.start());
  auto c2 = d.connect("crashy");
  auto shown = c2.show_session(session);
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  ASSERT_EQ(shown->messages_size(), 2);  // the acknowledged turn, and nothing half-written
  EXPECT_EQ(shown->messages(0).text(), "first turn");
  EXPECT_EQ(shown->messages(1).role(), v1::ROLE_MODEL);
}

TEST(TheService, CancelStopsAStreamWithinAStep) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("canceller");
  const uint64_t id = start_streaming(c, long_chat_request("tell me a long story"), 3);
  ASSERT_NE(id, 0u);
  const auto t0 = Clock::now();
  ASSERT_TRUE(c.cancel(id).ok());
  // The daemon registers the cancel with the scheduler before it sends the Ack, so after the
  // Ack at most the token of the step already running can arrive, and the UTF-8 bytes the
  // detokenizer held back, flushed when the sequence ends. (Tokens between sending the
  // Cancel and the Ack depend on how fast the daemon's io thread runs, not on the scheduler.)
  std::optional<v1::Done> done;
  bool acked = false;
  int after_ack = 0;
  while (!done) {
    auto msg = c.next();
    ASSERT_TRUE(msg.ok());
    if (msg->has_ack()) acked = true;
    if (msg->has_done() && msg->request_id() == id) done = msg->done();
    if (msg->has_token() && acked) ++after_ack;
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_TRUE(acked);
  EXPECT_EQ(done->stop_reason(), v1::STOP_REASON_CANCELLED);
  EXPECT_LE(after_ack, 2) << "tokens after the cancel was acknowledged";
  EXPECT_LT(done->usage().completion_tokens(), 900u);
  RecordProperty("cancel_latency_ms", std::to_string(ms));
  printf("cancel latency: %.1f ms (%d tokens after the Ack)\n", ms, after_ack);
  // The interrupted turn is stored as such.
  auto shown = c.show_session(done->session_id());
  ASSERT_TRUE(shown.ok());
  ASSERT_EQ(shown->messages_size(), 2);
  EXPECT_EQ(shown->messages(1).status(), v1::MESSAGE_STATUS_CANCELLED);
  EXPECT_EQ(status_of(d).queue().active(), 0u);
}

TEST(TheService, SurvivesHostileClients) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  // Garbage bytes: a PROTOCOL error, then the connection is closed.
  {
    int fd = raw_connect(d.socket());
    ASSERT_GE(fd, 0);
    // A 5-byte frame whose payload is not a ClientMessage, then trailing junk.
    static const char kJunk[] = "\x00\x00\x00\x05\xff\xff\xff\xff\xff garbage";
    const std::string junk(kJunk, sizeof kJunk - 1);
    ASSERT_GT(write(fd, junk.data(), junk.size()), 0);
    auto reply = first_frame(read_all(fd));
    close(fd);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->error().code(), v1::ERROR_CODE_PROTOCOL) << reply->DebugString();
  }
  // A 2 GB length prefix: refused before anything is allocated.
  {
    int fd = raw_connect(d.socket());
    const unsigned char huge[4] = {0x7f, 0xff, 0xff, 0xff};
    ASSERT_EQ(write(fd, huge, 4), 4);
    auto reply = first_frame(read_all(fd));
    close(fd);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->error().code(), v1::ERROR_CODE_PROTOCOL);
    EXPECT_NE(reply->error().message().find("2147483647"), std::string::npos)
        << reply->error().message();
  }
  // A frame cut in half, then the client vanishes.
  {
    int fd = raw_connect(d.socket());
    v1::ClientMessage hello;
    hello.mutable_hello()->set_app_name("half");
    hello.mutable_hello()->set_protocol_version(ipc::kProtocolVersion);
    const std::string f = frame(hello);
    ASSERT_GT(write(fd, f.data(), f.size() / 2), 0);
    close(fd);
  }
  // A client that starts a long stream and never reads: it pauses only itself.
  int stalled = raw_connect(d.socket());
  {
    v1::ClientMessage hello;
    hello.set_request_id(1);
    hello.mutable_hello()->set_app_name("stalled");
    hello.mutable_hello()->set_protocol_version(ipc::kProtocolVersion);
    v1::ClientMessage chat;
    chat.set_request_id(2);
    *chat.mutable_chat() = long_chat_request("never read");
    const std::string bytes = frame(hello) + frame(chat);
    ASSERT_EQ(write(stalled, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // A client that vanishes mid-stream.
  {
    auto c = d.connect("vanisher");
    v1::ClientMessage m;
    *m.mutable_chat() = long_chat_request("long one");
    ASSERT_TRUE(c.send(m).ok());
    auto first = c.next();
    ASSERT_TRUE(first.ok());
  }  // Client destroyed: socket closed mid-stream.
  // Others are unaffected.
  auto c = d.connect("good");
  auto r = c.chat(chat_request("still there?"), [](const v1::Token&) {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->usage().completion_tokens(), 0u);
  // The vanished client's sequence was freed; the stalled one holds at most its own slot.
  for (int i = 0; i < 100 && status_of(d).queue().active() > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(status_of(d).queue().active(), 1u);
  close(stalled);
  for (int i = 0; i < 100 && status_of(d).queue().active() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status_of(d).queue().active(), 0u);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST(TheService, RefusesWhatExceedsItsLimits) {
  DaemonProcess d("server.max_requests_per_client = 1\n");
  ASSERT_TRUE(d.start());
  auto c = d.connect("limits");
  // A message past max_message_bytes.
  auto big = c.chat(chat_request(std::string(300 * 1024, 'x')), [](const v1::Token&) {});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kOutOfRange);
  // A second request in flight past max_requests_per_client gets "busy".
  v1::ClientMessage m;
  *m.mutable_chat() = chat_request("one", "", 200);
  ASSERT_TRUE(c.send(m).ok());
  auto second = c.chat(chat_request("two"), [](const v1::Token&) {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kResourceExhausted) << second.error().message;
  // An unknown session reads as missing.
  auto c2 = d.connect("limits2");
  auto missing =
      c2.chat(chat_request("hi", "0123456789abcdef0123456789abcdef"), [](const v1::Token&) {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace gemmad::testing

namespace gemmad::testing {
namespace {

TEST(TheService, AdmitsAppsRoundRobinSoOneAppCannotStarveAnother) {
  // One sequence slot: requests run one at a time, in admission order.
  DaemonProcess d("model.max_sequences = 1\n");
  ASSERT_TRUE(d.start());
  std::mutex mu;
  std::vector<std::string> finished;  // app of each completed request, in order
  auto run = [&](const std::string& app, int i) {
    auto c = d.connect(app);
    v1::GenerateRequest g;
    g.set_prompt("request " + std::to_string(i));
    g.set_raw(true);
    g.mutable_sampling()->set_temperature(0.0f);
    g.mutable_sampling()->set_max_tokens(300);  // long enough that the others queue up
    g.mutable_sampling()->set_ignore_eos(true);
    auto r = c.generate(g, [](const v1::Token&) {});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->usage().completion_tokens(), 300u);
    std::lock_guard lock(mu);
    finished.push_back(app);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i)
    threads.emplace_back(run, "greedy-app", i);
  auto finished_count = [&] {
    std::lock_guard lock(mu);
    return finished.size();
  };
  // Wait until greedy-app's requests are all in (running, queued or done), then the other app
  // asks once.
  bool all_in = false;
  auto probe = d.connect("status-probe");
  for (int i = 0; i < 5000 && !all_in; ++i) {
    const auto done = finished_count();
    auto st = probe.status();
    all_in = st.ok() && st->queue().active() + st->queue().queued() + done >= 5;
    if (!all_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!all_in) {
    for (auto& t : threads)
      t.join();
    FAIL() << "greedy-app's requests did not queue up";
  }
  threads.emplace_back(run, "modest-app", 99);
  // Find the moment modest-app's request is inside the daemon (running or queued) and how many
  // requests had finished by then. On a loaded machine the first greedy request may already be
  // done, so the bound is relative to that count, not to a fixed position.
  std::size_t done_when_queued = 0;
  bool modest_in = false;
  for (int i = 0; i < 5000 && !modest_in; ++i) {
    const auto before = finished_count();
    auto st = probe.status();
    const auto after = finished_count();
    modest_in = st.ok() && st->queue().active() + st->queue().queued() + before >= 6;
    done_when_queued = after;
    if (!modest_in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& t : threads)
    t.join();
  ASSERT_TRUE(modest_in) << "modest-app's request never showed up in the queue";
  ASSERT_EQ(finished.size(), 6u);
  // The test only tells round-robin from FIFO if at least two greedy requests were still waiting.
  ASSERT_LE(done_when_queued, 3u) << "the machine was too slow to observe the queue";
  const auto pos = static_cast<std::size_t>(
      std::find(finished.begin(), finished.end(), "modest-app") - finished.begin());
  // FIFO would put it last (index 5); round-robin admits it right after the request running when
  // it arrived, so at most one more greedy request finishes before it.
  EXPECT_LE(pos, done_when_queued + 1)
      << "modest-app finished at position " << pos << " after arriving when " << done_when_queued
      << " requests were done";
}

}  // namespace
}  // namespace gemmad::testing

namespace gemmad::testing {
namespace {

TEST(TheService, DrainsARunningTurnOnSigtermAndStoresIt) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  auto c = d.connect("drain");
  ASSERT_NE(start_streaming(c, long_chat_request("a long answer please", "", 300), 3), 0u);
  kill(d.pid(), SIGTERM);
  // The stream still ends with Done (finished, or cancelled at the grace deadline), and the
  // turn was committed before it.
  std::optional<v1::Done> done;
  while (!done) {
    auto msg = c.next();
    ASSERT_TRUE(msg.ok()) << msg.error().message;
    ASSERT_FALSE(msg->has_error()) << msg->error().message();
    if (msg->has_done()) done = msg->done();
  }
  EXPECT_EQ(d.stop(), 0) << d.log();
  ASSERT_TRUE(d.start());
  auto c2 = d.connect("drain");
  auto shown = c2.show_session(done->session_id());
  ASSERT_TRUE(shown.ok()) << shown.error().message;
  EXPECT_EQ(shown->messages_size(), 2);
}

}  // namespace
}  // namespace gemmad::testing

namespace gemmad::testing {
namespace {

// "Seccomp_filters:" of /proc/PID/status (filters the kernel holds for the process), or -1.
int seccomp_filters(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Seccomp_filters:", 0) == 0) return std::stoi(line.substr(16));
  }
  return -1;
}

TEST(TheService, RunsUnderTheNoNetworkPolicy) {
  if (!seccomp_loads()) GTEST_SKIP() << "this kernel would not load a seccomp filter";
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  EXPECT_TRUE(status_of(d).network_filter());
  // gemmad inherits this test's filters (a container's, say) and adds its own.
  const int mine = seccomp_filters(getpid());
  if (mine >= 0) {
    EXPECT_GT(seccomp_filters(d.pid()), mine);
  }
  EXPECT_NE(d.log().find("network filter on"), std::string::npos) << d.log();
  // Turned off, it says so in Status and in the log.
  EXPECT_EQ(d.stop(), 0);
  DaemonProcess off("privacy.network_filter = false\n");
  ASSERT_TRUE(off.start());
  EXPECT_FALSE(status_of(off).network_filter());
  if (mine >= 0) {
    EXPECT_EQ(seccomp_filters(off.pid()), mine);
  }
  EXPECT_NE(off.log().find("network filter off"), std::string::npos) << off.log();
}

}  // namespace
}  // namespace gemmad::testing

namespace gemmad::testing {
namespace {

// A second tiny model with other weights (seed 9), written once per test binary.
const std::string& other_model() {
  static const std::string path = [] {
    const std::string p = "/tmp/gemmad-it-other-" + std::to_string(getpid()) + ".gguf";
    std::string out, err;
    const int rc = run_command({gemmactl_binary(), "model", "synth", "--preset", "tiny", "--quant",
                                "q4_0", "--seed", "9", "-o", p},
                               &out, &err);
    if (rc != 0) throw std::runtime_error("model synth failed: " + err);
    return p;
  }();
  return path;
}

// The "text" line of `gemmactl generate --json` for a greedy raw completion: computed
// offline from `file`, or by the daemon at `socket` with model `use`.
std::string generated_text(const std::string& file, const std::string& socket = "",
                           const std::string& use = "") {
  std::vector<std::string> argv = {gemmactl_binary()};
  if (!socket.empty()) argv.insert(argv.end(), {"--socket", socket});
  argv.insert(argv.end(),
              {"generate", "--raw", "--temp", "0", "-n", "8", "--ignore-eos", "--json"});
  if (!file.empty()) argv.insert(argv.end(), {"--model", file, "--threads", "1"});
  if (!use.empty()) argv.insert(argv.end(), {"--use", use});
  argv.push_back("the cat sat");
  std::string out;
  EXPECT_EQ(run_command(argv, &out), 0) << out;
  const size_t at = out.find("\"text\":");
  return at == std::string::npos ? out : out.substr(at, out.find('\n', at) - at);
}

// A greedy 8-token raw completion through the C++ client; `ms` gets its wall time.
void timed_generate(client::Client& c, const std::string& model, double* ms) {
  v1::GenerateRequest g;
  g.set_prompt("the cat sat");
  g.set_raw(true);
  g.set_model(model);
  g.mutable_sampling()->set_temperature(0.0f);
  g.mutable_sampling()->set_max_tokens(8);
  g.mutable_sampling()->set_ignore_eos(true);
  const auto t0 = Clock::now();
  auto done = c.generate(g, [](const v1::Token&) {});
  *ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->model(), model);
}

const v1::ModelInfo* find_model(const v1::StatusReply& s, const std::string& name) {
  for (const auto& m : s.models()) {
    if (m.model() == name) return &m;
  }
  return nullptr;
}

TEST(TheService, ServesTwoModelsAndUnmapsAnIdleOneAfterKeepAlive) {
  DaemonProcess d("[[models]]\nname = \"other\"\npath = \"" + other_model() +
                  "\"\nkeep_alive = \"300ms\"\n");
  ASSERT_TRUE(d.start());
  auto c = d.connect("models");
  const std::string first = std::filesystem::path(tiny_model()).stem().string();
  // Each request gets its own model's output: the same as gemmactl computes from the file.
  EXPECT_EQ(generated_text("", d.socket(), first), generated_text(tiny_model()));
  EXPECT_EQ(generated_text("", d.socket(), "other"), generated_text(other_model()));
  EXPECT_EQ(generated_text("", d.socket()), generated_text(tiny_model()));  // the default
  EXPECT_NE(generated_text(tiny_model()), generated_text(other_model()));
  double warm_ms = 0, remap_ms = 0;
  timed_generate(c, "other", &warm_ms);
  // Idle past keep_alive: unmapped, resident bytes gone; the default model (keep_alive 5m)
  // stays.
  bool unmapped = false;
  for (int i = 0; i < 200 && !unmapped; ++i) {
    auto s = c.status();
    ASSERT_TRUE(s.ok());
    const v1::ModelInfo* m = find_model(*s, "other");
    ASSERT_NE(m, nullptr);
    unmapped = !m->loaded() && m->resident_bytes() == 0;
    if (!unmapped) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(unmapped) << d.log();
  auto s = c.status();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(find_model(*s, first)->loaded());
  EXPECT_GT(find_model(*s, first)->resident_bytes(), 0u);
  // The next request maps it again, with the same answer.
  timed_generate(c, "other", &remap_ms);
  EXPECT_EQ(generated_text("", d.socket(), "other"), generated_text(other_model()));
  auto after = c.status();
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(find_model(*after, "other")->loaded());
  std::printf(
      "[ figure ] 8-token request on a mapped model %.1f ms; after keep_alive unmapped it "
      "%.1f ms (includes mapping again)\n",
      warm_ms, remap_ms);
  // `gemmactl model ls --json` lists both, and a session stays with its model.
  std::string out;
  ASSERT_EQ(run_command({gemmactl_binary(), "--socket", d.socket(), "model", "ls", "--json"}, &out),
            0);
  EXPECT_NE(out.find("\"name\": \"other\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"name\": \"" + first + "\""), std::string::npos) << out;
  v1::ChatRequest on_other = chat_request("hi");
  on_other.set_model("other");
  auto t1 = c.chat(on_other, [](const v1::Token&) {});
  ASSERT_TRUE(t1.ok());
  v1::ChatRequest wrong = chat_request("again", t1->session_id());
  wrong.set_model(first);
  auto refused = c.chat(wrong, [](const v1::Token&) {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("belongs to model 'other'"), std::string::npos);
}

TEST(TheService, KeepsAConversationLongerThanTheContextGoing) {
  DaemonProcess d;  // context 1024, store.max_prompt_tokens 900
  ASSERT_TRUE(d.start());
  auto c = d.connect("long");
  std::string session;
  uint32_t left_out = 0;
  const std::string filler =
      " and the cat sat on the mat while the dog ran in the park with a red ball";
  for (int turn = 0; turn < 30; ++turn) {
    auto r = chat_request("turn " + std::to_string(turn) + filler + filler, session, 16);
    r.mutable_sampling()->set_ignore_eos(true);
    auto done = c.chat(r, [](const v1::Token&) {});
    ASSERT_TRUE(done.ok()) << "turn " << turn << ": " << done.error().message;
    EXPECT_LE(done->usage().prompt_tokens(), 900u);
    EXPECT_EQ(done->message_status(), v1::MESSAGE_STATUS_TRUNCATED);  // max_tokens cut it
    left_out = done->usage().turns_left_out();
    session = done->session_id();
  }
  EXPECT_GT(left_out, 0u);
  auto shown = c.show_session(session);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->messages_size(), 60);  // every turn stays stored
  // Only a message that cannot fit by itself is refused, and creates no session.
  std::string huge;
  for (int i = 0; i < 1200; ++i)
    huge += "cat ";
  auto before = c.list_sessions();
  auto full = c.chat(chat_request(huge), [](const v1::Token&) {});
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("context_full"), std::string::npos) << full.error().message;
  auto after = c.list_sessions();
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(after->sessions_size(), before->sessions_size());
}

}  // namespace
}  // namespace gemmad::testing
