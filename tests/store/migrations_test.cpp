// Schema migrations: from an empty file, on reopen, step by step, failing steps, newer files.
#include "store/migrations.h"

#include <gtest/gtest.h>

#include <array>

#include "store/session_store.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

bool has_table(Database& db, const std::string& name) {
  auto count = db.query_int64(
      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '" + name + "'");
  return count.ok() && *count == 1;
}

TEST(Migrations, AreNumberedFromOneWithoutGaps) {
  const auto migrations = schema_migrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
  }
  EXPECT_EQ(latest_schema_version(), migrations.back().version);
}

TEST(Migrations, BringAnEmptyFileToTheLatestSchema) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  { ASSERT_OK(SessionStore::open(path)); }
  ASSERT_OK_AND_ASSIGN(auto db, Database::open(path));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(*db));
  EXPECT_EQ(version, latest_schema_version());
  EXPECT_TRUE(has_table(*db, "apps"));
  EXPECT_TRUE(has_table(*db, "sessions"));
  EXPECT_TRUE(has_table(*db, "messages"));
}

TEST(Migrations, ReopeningKeepsTheVersionAndTheData) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  std::string id;
  {
    ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path));
    ASSERT_OK_AND_ASSIGN(AppId app, store->ensure_app(1000, "notes"));
    ASSERT_OK_AND_ASSIGN(Session s, store->create_session(app, "kept", "", "{}"));
    id = s.id;
  }
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path));
  ASSERT_OK_AND_ASSIGN(AppId app, store->ensure_app(1000, "notes"));
  ASSERT_OK_AND_ASSIGN(Session again, store->get_session(app, id));
  EXPECT_EQ(again.title, "kept");
  ASSERT_OK_AND_ASSIGN(auto db, Database::open(path));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(*db));
  EXPECT_EQ(version, latest_schema_version());
}

TEST(Migrations, ANewerSchemaIsRefusedAndLeftUntouched) {
  TempDir dir;
  const std::string path = dir.file("gemmad.db");
  const int newer = latest_schema_version() + 5;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::open(path));
    ASSERT_OK(db->exec("PRAGMA user_version = " + std::to_string(newer)));
  }
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnsupported);
  const std::string& message = store.error().message;
  EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos) << message;
  EXPECT_NE(message.find("(" + std::to_string(latest_schema_version()) + ")"), std::string::npos)
      << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;

  ASSERT_OK_AND_ASSIGN(auto db, Database::open(path));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(*db));
  EXPECT_EQ(version, newer);
  EXPECT_FALSE(has_table(*db, "sessions"));
}

constexpr std::array<Migration, 1> kV1 = {{{1, "create t", "CREATE TABLE t (a INTEGER);"}}};
constexpr std::array<Migration, 2> kV2 = {{
    {1, "create t", "CREATE TABLE t (a INTEGER);"},
    {2, "add t.b", "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';"},
}};

TEST(Migrations, UpgradeAnOlderDatabaseStepByStepKeepingRows) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::open(dir.file("m.db")));
  ASSERT_OK(migrate(*db, kV1));
  ASSERT_OK(db->exec("INSERT INTO t (a) VALUES (7)"));
  ASSERT_OK(migrate(*db, kV2));
  ASSERT_OK_AND_ASSIGN(int version, schema_version(*db));
  EXPECT_EQ(version, 2);
  ASSERT_OK_AND_ASSIGN(std::string b, db->query_text("SELECT b FROM t WHERE a = 7"));
  EXPECT_EQ(b, "x");
  ASSERT_OK(migrate(*db, kV2));  // nothing left to do: a no-op, not "duplicate column"
}

TEST(Migrations, AFailingStepRollsBackToThePreviousVersion) {
  constexpr std::array<Migration, 2> kBroken = {{
      {1, "create t", "CREATE TABLE t (a INTEGER);"},
      {2, "half done", "CREATE TABLE t2 (x INTEGER); INSERT INTO missing VALUES (1);"},
  }};
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::open(dir.file("m.db")));
  Status status = migrate(*db, kBroken);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("migration 2 (half done)"), std::string::npos)
      << status.error().message;
  EXPECT_NE(status.error().message.find("no such table: missing"), std::string::npos)
      << status.error().message;
  ASSERT_OK_AND_ASSIGN(int version, schema_version(*db));
  EXPECT_EQ(version, 1);
  EXPECT_TRUE(has_table(*db, "t"));
  EXPECT_FALSE(has_table(*db, "t2"));
  EXPECT_TRUE(db->autocommit());
}

TEST(Migrations, AMisnumberedListIsRejectedBeforeTouchingTheFile) {
  constexpr std::array<Migration, 2> kGap = {{
      {1, "create t", "CREATE TABLE t (a INTEGER);"},
      {3, "skips 2", "CREATE TABLE t3 (a INTEGER);"},
  }};
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::open(dir.file("m.db")));
  Status status = migrate(*db, kGap);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(has_table(*db, "t"));
}

}  // namespace
}  // namespace gemmad::store
