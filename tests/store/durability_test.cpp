// Turns are all-or-nothing and durable (docs/DESIGN.md "Data flow" step 6): a failure inside
// append_turn leaves nothing half-written, and a process killed right after append_turn
// returned loses none of the turns it reported.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "store/session_store.h"
#include "store/sqlite_db.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

std::string user_text(int k) {
  return "question " + std::to_string(k) + " ¿qué?";
}
std::string model_text(int k) {
  return "answer " + std::to_string(k) + " 答え";
}

// Checks the session holds exactly turns 1..n, each whole, in order.
void expect_whole_turns(SessionStore& store, AppId app, const std::string& id, int n) {
  ASSERT_OK_AND_ASSIGN(Session s, store.get_session(app, id));
  EXPECT_EQ(s.turns, n);
  ASSERT_OK_AND_ASSIGN(auto messages, store.messages(app, id));
  ASSERT_EQ(messages.size(), static_cast<size_t>(2 * n));
  for (int k = 1; k <= n; ++k) {
    const Message& user = messages[2 * (k - 1)];
    const Message& model = messages[2 * (k - 1) + 1];
    EXPECT_EQ(user.seq, 2 * k - 1);
    EXPECT_EQ(user.role, Role::kUser);
    EXPECT_EQ(user.text, user_text(k));
    EXPECT_EQ(user.tokens, k);
    EXPECT_EQ(model.seq, 2 * k);
    EXPECT_EQ(model.role, Role::kModel);
    EXPECT_EQ(model.text, model_text(k));
    EXPECT_EQ(model.status, MessageStatus::kComplete);
  }
}

NewTurn turn(int k, const std::string& user, const std::string& model) {
  return NewTurn{user, k, model, k, MessageStatus::kComplete};
}

class TurnDurability : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path()));
    ASSERT_OK_AND_ASSIGN(app_, store->ensure_app(1000, "notes"));
    ASSERT_OK_AND_ASSIGN(Session s, store->create_session(app_, "", "", ""));
    id_ = s.id;
  }
  std::string path() const { return dir_.file("gemmad.db"); }

  TempDir dir_;
  AppId app_;
  std::string id_;
};

TEST_F(TurnDurability, AFailureBetweenTheTwoInsertsStoresNothingOfTheTurn) {
  auto fail = std::make_shared<std::atomic<bool>>(false);
  StoreOptions options;
  options.between_turn_inserts = [fail]() -> Status {
    if (fail->load()) return make_error(ErrorCode::kIo, "injected failure");
    return {};
  };
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path(), options));
  const std::string u1 = user_text(1), m1 = model_text(1);
  ASSERT_OK(store->append_turn(app_, id_, turn(1, u1, m1)));

  fail->store(true);
  auto failed = store->append_turn(app_, id_, turn(2, "lost user", "lost model"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "injected failure");
  expect_whole_turns(*store, app_, id_, 1);

  // The next turn continues at seq 3: no gap, no leftover of the failed one.
  fail->store(false);
  const std::string u2 = user_text(2), m2 = model_text(2);
  ASSERT_OK(store->append_turn(app_, id_, turn(2, u2, m2)));
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, SessionStore::open(path()));
  expect_whole_turns(*store, app_, id_, 2);
  ASSERT_OK_AND_ASSIGN(auto raw, Database::open(path()));
  ASSERT_OK_AND_ASSIGN(int64_t lost, raw->query_int64("SELECT COUNT(*) FROM messages WHERE text "
                                                      "LIKE 'lost%'"));
  EXPECT_EQ(lost, 0);
}

TEST_F(TurnDurability, AnSqliteErrorOnTheModelInsertRollsBackTheUserInsert) {
  std::vector<std::string> logged;
  StoreOptions options;
  options.log_error = [&](std::string_view line) { logged.emplace_back(line); };
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path(), options));
  {
    // A real sqlite failure inside the transaction, on the second of the two inserts.
    ASSERT_OK_AND_ASSIGN(auto raw, Database::open(path()));
    ASSERT_OK(
        raw->exec("CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.role = 'model' "
                  "AND NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'boom trigger'); END"));
  }
  auto failed = store->append_turn(app_, id_, turn(1, "never stored", "boom"));
  ASSERT_FALSE(failed.ok());
  // The caller gets sqlite's reason; the log gets its full message.
  EXPECT_NE(failed.error().message.find("constraint failed"), std::string::npos)
      << failed.error().message;
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("boom trigger"), std::string::npos) << logged[0];
  expect_whole_turns(*store, app_, id_, 0);
  const std::string u1 = user_text(1), m1 = model_text(1);
  ASSERT_OK(store->append_turn(app_, id_, turn(1, u1, m1)));
  expect_whole_turns(*store, app_, id_, 1);
}

TEST_F(TurnDurability, TurnsSurviveClosingAndReopening) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path()));
    for (int k = 1; k <= 3; ++k) {
      const std::string u = user_text(k), m = model_text(k);
      ASSERT_OK(store->append_turn(app_, id_, turn(k, u, m)));
    }
  }
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path()));
  expect_whole_turns(*store, app_, id_, 3);
}

// The child appends turns 1..max_turns, writing k to `progress` after append_turn returns for
// turn k. With stop_after = k it SIGKILLs itself right there: no destructor, no close, no
// checkpoint runs. Never returns; reports failures by exit code.
[[noreturn]] void append_in_child(const std::string& path, AppId app, const std::string& id,
                                  int progress, int stop_after, int max_turns) {
  auto store = SessionStore::open(path);
  if (!store.ok()) ::_exit(2);
  for (int k = 1; k <= max_turns; ++k) {
    const std::string u = user_text(k), m = model_text(k);
    if (!(*store)->append_turn(app, id, turn(k, u, m)).ok()) ::_exit(3);
    const int32_t done = k;
    if (::write(progress, &done, sizeof done) != sizeof done) ::_exit(4);
    if (k == stop_after) ::raise(SIGKILL);
  }
  ::_exit(0);
}

struct Child {
  pid_t pid = -1;
  int progress = -1;  // read end
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (progress >= 0) ::close(progress);
  }
  // Blocks for the next progress report; 0 at end of stream (the child is gone).
  int32_t next() const {
    int32_t k = 0;
    size_t got = 0;
    while (got < sizeof k) {
      const ssize_t n = ::read(progress, reinterpret_cast<char*>(&k) + got, sizeof k - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      got += static_cast<size_t>(n);
    }
    return k;
  }
  int wait_status() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
};

// Forks before any connection is open in the child's copy (sqlite connections must not cross
// a fork); the parent has none open either.
void start_child(Child& child, const std::string& path, AppId app, const std::string& id,
                 int stop_after, int max_turns) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    append_in_child(path, app, id, fds[1], stop_after, max_turns);
  }
  ::close(fds[1]);
  child.pid = pid;
  child.progress = fds[0];
}

TEST_F(TurnDurability, ProcessKilledRightAfterAppendTurnKeepsEveryReportedTurn) {
  constexpr int kStopAfter = 5;
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_child(child, path(), app_, id_, kStopAfter, 100));
  int32_t last = 0;
  for (int32_t k; (k = child.next()) != 0;)
    last = k;
  const int status = child.wait_status();
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit code " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_EQ(last, kStopAfter);

  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path()));
  expect_whole_turns(*store, app_, id_, kStopAfter);
}

TEST_F(TurnDurability, ProcessKilledAtAnyMomentLeavesOnlyWholeTurns) {
  constexpr int kKillAfterReports = 12;
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_child(child, path(), app_, id_, 0, 100000));
  int32_t reported = 0;
  while (reported < kKillAfterReports) {
    const int32_t k = child.next();
    ASSERT_NE(k, 0) << "child stopped early";
    reported = k;
  }
  // The child is somewhere inside the next append_turn (or between two): kill it there.
  ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
  const int status = child.wait_status();
  ASSERT_TRUE(WIFSIGNALED(status));
  for (int32_t k; (k = child.next()) != 0;)
    reported = k;

  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path()));
  ASSERT_OK_AND_ASSIGN(Session s, store->get_session(app_, id_));
  // Every reported turn is there; at most the one in flight (committed, not yet reported) too.
  EXPECT_GE(s.turns, reported);
  EXPECT_LE(s.turns, reported + 1);
  expect_whole_turns(*store, app_, id_, static_cast<int>(s.turns));
}

}  // namespace
}  // namespace gemmad::store
