// One SessionStore shared by several threads, as the daemon's request threads share it.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "store/session_store.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

TEST(StoreConcurrency, TurnsFromManyThreadsAreAllStoredWhole) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(dir.file("gemmad.db")));
  constexpr int kOwnThreads = 3;     // each on its own app and session
  constexpr int kSharedThreads = 2;  // both on one shared session
  constexpr int kTurns = 15;

  std::vector<AppId> apps;
  std::vector<std::string> own_ids;
  for (int t = 0; t < kOwnThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(AppId app, store->ensure_app(1000 + t, "app"));
    ASSERT_OK_AND_ASSIGN(Session s, store->create_session(app, "", "", ""));
    apps.push_back(app);
    own_ids.push_back(s.id);
  }
  ASSERT_OK_AND_ASSIGN(AppId shared_app, store->ensure_app(2000, "shared"));
  ASSERT_OK_AND_ASSIGN(Session shared, store->create_session(shared_app, "", "", ""));

  std::atomic<int> failures{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  auto append_all = [&](AppId app, std::string id, std::string tag) {
    for (int i = 0; i < kTurns; ++i) {
      const std::string text = tag + "/" + std::to_string(i);
      if (!store->append_turn(app, id, {text, 1, text, 1}).ok()) ++failures;
    }
  };
  for (int t = 0; t < kOwnThreads; ++t) {
    threads.emplace_back(append_all, apps[t], own_ids[t], "own" + std::to_string(t));
  }
  for (int t = 0; t < kSharedThreads; ++t) {
    threads.emplace_back(append_all, shared_app, shared.id, "shared" + std::to_string(t));
  }
  // A reader and a session creator run alongside the writers.
  std::thread reader([&] {
    while (writing.load()) {
      if (!store->list_sessions(shared_app, 10).ok()) ++failures;
      if (!store->messages(shared_app, shared.id).ok()) ++failures;
      if (!store->ensure_app(3000, "late").ok()) ++failures;
    }
  });
  for (std::thread& t : threads)
    t.join();
  writing.store(false);
  reader.join();
  ASSERT_EQ(failures.load(), 0);

  for (int t = 0; t < kOwnThreads; ++t) {
    ASSERT_OK_AND_ASSIGN(auto messages, store->messages(apps[t], own_ids[t]));
    ASSERT_EQ(messages.size(), 2u * kTurns);
    for (int i = 0; i < kTurns; ++i) {
      EXPECT_EQ(messages[2 * i].text, "own" + std::to_string(t) + "/" + std::to_string(i));
    }
  }
  // The shared session: 2 * kTurns whole turns, seq 1..4*kTurns, each user message directly
  // followed by its own model message, and each writer's turns in its own order.
  ASSERT_OK_AND_ASSIGN(Session after, store->get_session(shared_app, shared.id));
  EXPECT_EQ(after.turns, kSharedThreads * kTurns);
  ASSERT_OK_AND_ASSIGN(auto messages, store->messages(shared_app, shared.id));
  ASSERT_EQ(messages.size(), 2u * kSharedThreads * kTurns);
  std::map<std::string, int> next_index;
  for (size_t i = 0; i < messages.size(); i += 2) {
    EXPECT_EQ(messages[i].seq, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(messages[i].role, Role::kUser);
    EXPECT_EQ(messages[i + 1].role, Role::kModel);
    EXPECT_EQ(messages[i + 1].text, messages[i].text);
    const std::string& text = messages[i].text;
    const std::string tag = text.substr(0, text.find('/'));
    EXPECT_EQ(text, tag + "/" + std::to_string(next_index[tag]++));
  }
}

}  // namespace
}  // namespace gemmad::store
