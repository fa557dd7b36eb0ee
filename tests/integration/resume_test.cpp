// Saved KV end to end (docs/KV_CACHE.md "Saved KV"): a real gemmad restarted between turns
// continues a session from its saved KV file (Done's cached_tokens shows the reuse), and the
// greedy continuation is token for token the one a daemon without the restart produces.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon_process.h"

namespace gemmad::testing {
namespace {

struct Turn {
  std::vector<uint32_t> ids;
  uint32_t cached = 0, prompt = 0;
  std::string session;
  bool answer_only = true;  // every token in the answer channel: stored as generated
};

Turn chat(const DaemonProcess& d, const std::string& text, const std::string& session) {
  v1::ChatRequest r;
  r.set_session_id(session);
  r.set_new_session(session.empty());
  r.set_user_text(text);
  r.mutable_sampling()->set_temperature(0.0f);
  r.mutable_sampling()->set_max_tokens(12);
  auto c = d.connect("resume");
  Turn t;
  auto done = c.chat(r, [&](const v1::Token& tok) {
    t.ids.push_back(tok.token_id());
    t.answer_only &= tok.channel() == v1::CHANNEL_ANSWER;
  });
  EXPECT_TRUE(done.ok()) << done.error().message;
  if (!done.ok()) return t;
  t.cached = done->usage().cached_tokens();
  t.prompt = done->usage().prompt_tokens();
  t.session = done->session_id();
  return t;
}

TEST(SavedKv, ARestartedDaemonContinuesFromTheFileTokenForToken) {
  const std::vector<std::string> texts = {"the first question", "a second one", "and a third"};
  // Without a restart.
  std::vector<Turn> plain;
  {
    DaemonProcess d;
    ASSERT_TRUE(d.start());
    std::string s;
    for (const auto& text : texts) {
      plain.push_back(chat(d, text, s));
      s = plain.back().session;
    }
  }
  // A restart before every turn.
  DaemonProcess d;
  std::vector<Turn> restarted;
  std::string s;
  for (const auto& text : texts) {
    ASSERT_TRUE(d.start());
    restarted.push_back(chat(d, text, s));
    s = restarted.back().session;
    ASSERT_EQ(d.stop(), 0) << d.log();
    EXPECT_TRUE(std::filesystem::exists(d.state_dir() + "/kv"));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(restarted[i].ids, plain[i].ids) << "turn " << i;
    EXPECT_EQ(restarted[i].prompt, plain[i].prompt) << "turn " << i;
    EXPECT_EQ(restarted[i].cached, plain[i].cached) << "turn " << i;
  }
  // Every turn after the first reused all but its new text, where the reply before it was
  // stored as generated (a random model may open a thought or call channel, whose text is
  // not stored: the next prompt is rendered from the store instead, in both daemons alike).
  ASSERT_TRUE(restarted[0].answer_only);
  EXPECT_GT(restarted[1].cached, restarted[0].prompt);
  if (restarted[1].answer_only) {
    EXPECT_GT(restarted[2].cached, restarted[1].prompt);
  }
}

TEST(SavedKv, SessionRmDeletesTheFile) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  const Turn t = chat(d, "something to forget", "");
  ASSERT_EQ(d.stop(), 0) << d.log();
  const std::string dir = d.state_dir() + "/kv";
  auto count = [&] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir))
      ++n;
    return n;
  };
  ASSERT_EQ(count(), 1u);
  ASSERT_TRUE(d.start());
  {
    auto c = d.connect("resume");
    Status st = c.delete_session(t.session);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  ASSERT_EQ(d.stop(), 0) << d.log();
  EXPECT_EQ(count(), 0u);
}

// Context switches (voluntary and not) of every thread of `pid` so far.
uint64_t context_switches(pid_t pid) {
  uint64_t total = 0;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream in(t.path() / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("voluntary_ctxt_switches:") ||
          line.starts_with("nonvoluntary_ctxt_switches:")) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

// docs/PERFORMANCE.md "Idle": an idle daemon sleeps until an event; nothing polls. Before
// this, the inference thread woke 20 times a second.
TEST(Idle, AnIdleDaemonDoesNotWakeUp) {
  DaemonProcess d;
  ASSERT_TRUE(d.start());
  chat(d, "warm every thread up", "");
  // The turn's Done is sent before the daemon's last bookkeeping; let that settle.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t before = context_switches(d.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t after = context_switches(d.pid());
  EXPECT_LE(after - before, 4u) << "context switches of gemmad's threads over 2 s of idleness";
}

}  // namespace
}  // namespace gemmad::testing
