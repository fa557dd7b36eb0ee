// The store's promises against a hostile or unlucky environment: a damaged or foreign file is
// refused at open, naming it; one daemon per database; deleted text leaves no copy in any
// file; sqlite's failures reach callers without SQL text and are logged in full.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "store/database_lock.h"
#include "store/session_store.h"
#include "store/sqlite_db.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every byte of the database and its side files, to search for text that must be gone.
std::string all_store_bytes(const std::string& db) {
  return file_bytes(db) + file_bytes(db + "-wal") + file_bytes(db + "-shm");
}

// A store at `path` holding one session of one turn whose texts contain `marker`.
void write_one_turn(const std::string& path, const std::string& marker, std::string* session_id) {
  auto store = SessionStore::open(path);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto app = (*store)->ensure_app(1000, "app");
  ASSERT_TRUE(app.ok());
  auto session = (*store)->create_session(*app, "title " + marker, "", "{}");
  ASSERT_TRUE(session.ok());
  const std::string user = "user says " + marker, model = "model answers " + marker;
  NewTurn turn;  // views: the strings above outlive it
  turn.user_text = user;
  turn.model_text = model;
  ASSERT_TRUE((*store)->append_turn(*app, session->id, turn).ok());
  *session_id = session->id;
}

TEST(StoreRefuses, ADatabaseWithACorruptedPageNamingTheFile) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  std::string id;
  write_one_turn(path, "x", &id);
  {
    // Checkpointed into the main file by the close; now scribble over page 2 (a b-tree page).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 8);
    const std::string junk(200, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("damaged"), std::string::npos) << store.error().message;
}

TEST(StoreRefuses, AnotherProgramsDatabaseWithoutTouchingIt) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  {
    auto raw = Database::open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_OK((*raw)->exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, blob BLOB)"));
  }
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_NE(store.error().message.find("table 'photos'"), std::string::npos)
      << store.error().message;
  EXPECT_NE(store.error().message.find("not a gemmad session store"), std::string::npos);
  // Nothing of gemmad's schema was written into it.
  auto raw = Database::open(path);
  ASSERT_TRUE(raw.ok());
  auto tables = (*raw)->query_int64("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sessions'");
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(*tables, 0);
}

TEST(StoreRefuses, ASchemaThatDiffersFromTheMigrations) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  std::string id;
  write_one_turn(path, "x", &id);
  {
    auto raw = Database::open(path);
    ASSERT_TRUE(raw.ok());
    ASSERT_OK((*raw)->exec("DROP INDEX sessions_by_app_updated"));
  }
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("lacks index 'sessions_by_app_updated'"), std::string::npos)
      << store.error().message;
}

TEST(DatabaseLock, ASecondHolderIsRefusedWithTheFirstsPid) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  {
    auto first = DatabaseLock::acquire(path);
    ASSERT_TRUE(first.ok()) << first.error().message;
    auto second = DatabaseLock::acquire(path);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::kResourceExhausted);
    EXPECT_NE(second.error().message.find("pid " + std::to_string(getpid())), std::string::npos)
        << second.error().message;
  }
  EXPECT_TRUE(DatabaseLock::acquire(path).ok());  // released with the first
}

TEST(DeletedMeansGone, NoCopyOfASessionsTextIsLeftInAnyFile) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  const std::string marker = "quetzal-7391-marker";
  auto store = SessionStore::open(path);
  ASSERT_TRUE(store.ok());
  auto app = (*store)->ensure_app(1000, "app");
  ASSERT_TRUE(app.ok());
  // A second session keeps the pages in use, so the test sees secure_delete, not a shrink.
  std::vector<std::string> ids;
  for (const std::string& m : {marker, std::string("keeper")}) {
    auto session = (*store)->create_session(*app, "title " + m, "", "{}");
    ASSERT_TRUE(session.ok());
    const std::string user = "user says " + m + std::string(3000, 'u');
    const std::string model = "model answers " + m + std::string(5000, 'm');
    NewTurn turn;
    turn.user_text = user;
    turn.model_text = model;
    ASSERT_TRUE((*store)->append_turn(*app, session->id, turn).ok());
    ids.push_back(session->id);
  }
  ASSERT_NE(all_store_bytes(path).find(marker), std::string::npos) << "the test sees no text";
  ASSERT_OK((*store)->delete_session(*app, ids[0]));
  const std::string after = all_store_bytes(path);
  EXPECT_EQ(after.find(marker), std::string::npos);
  EXPECT_NE(after.find("keeper"), std::string::npos);
}

TEST(StoreErrors, ReachCallersWithoutSqlTextAndAreLoggedInFull) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  std::vector<std::string> logged;
  StoreOptions options;
  options.busy_timeout_ms = 0;
  options.log_error = [&](std::string_view line) { logged.emplace_back(line); };
  auto store = SessionStore::open(path, options);
  ASSERT_TRUE(store.ok());
  auto app = (*store)->ensure_app(1000, "app");
  ASSERT_TRUE(app.ok());
  // Another connection holds the write lock: sqlite says SQLITE_BUSY.
  auto other = Database::open(path);
  ASSERT_TRUE(other.ok());
  ASSERT_OK((*other)->exec("BEGIN IMMEDIATE"));
  auto session = (*store)->create_session(*app, "t", "", "{}");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.error().code, ErrorCode::kResourceExhausted);
  const std::string& m = session.error().message;
  EXPECT_NE(m.find("session store cannot create a session"), std::string::npos) << m;
  EXPECT_NE(m.find("sqlite code 5"), std::string::npos) << m;
  EXPECT_EQ(m.find("BEGIN"), std::string::npos) << m;
  EXPECT_EQ(m.find("'"), std::string::npos) << m;  // no quoted SQL
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("BEGIN IMMEDIATE"), std::string::npos) << logged[0];
  // Our own checks keep their precise messages.
  auto bad = (*store)->get_session(*app, "nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("session id 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::store
