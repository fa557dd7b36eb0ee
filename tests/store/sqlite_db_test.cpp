// The sqlite RAII wrapper: binding and reading values, transactions, and errors as values.
#include "store/sqlite_db.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

class SqliteDb : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_OK_AND_ASSIGN(db_, Database::open(dir_.file("t.db")));
    ASSERT_OK(db_->exec("CREATE TABLE t (n INTEGER, s TEXT)"));
  }
  int64_t row_count() {
    auto count = db_->query_int64("SELECT COUNT(*) FROM t");
    return count.ok() ? *count : -1;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDb, BindsAndReadsIntegersTextAndNull) {
  const std::string with_nul("a\0b", 3);
  ASSERT_OK_AND_ASSIGN(Statement insert, db_->prepare("INSERT INTO t (n, s) VALUES (?1, ?2)"));
  ASSERT_OK(insert.bind_all(int64_t{-9007199254740993}, with_nul));
  ASSERT_OK(insert.run());
  ASSERT_OK(insert.reset());
  ASSERT_OK(insert.bind_null(1));
  ASSERT_OK(insert.bind_null(2));
  ASSERT_OK(insert.run());

  ASSERT_OK_AND_ASSIGN(Statement select, db_->prepare("SELECT n, s FROM t ORDER BY rowid"));
  ASSERT_OK_AND_ASSIGN(bool row, select.step());
  ASSERT_TRUE(row);
  EXPECT_EQ(select.column_count(), 2);
  EXPECT_EQ(select.column_int64(0), -9007199254740993);
  EXPECT_EQ(select.column_text(1), with_nul);
  ASSERT_OK_AND_ASSIGN(row, select.step());
  ASSERT_TRUE(row);
  EXPECT_TRUE(select.column_is_null(0));
  EXPECT_EQ(select.column_text(1), "");
  ASSERT_OK_AND_ASSIGN(row, select.step());
  EXPECT_FALSE(row);
}

TEST_F(SqliteDb, TransactionRollsBackWhenDestroyedWithoutCommit) {
  {
    ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::begin(*db_, Transaction::Kind::kImmediate));
    ASSERT_OK(db_->exec("INSERT INTO t (n) VALUES (1)"));
    EXPECT_EQ(row_count(), 1);
  }
  EXPECT_TRUE(db_->autocommit());
  EXPECT_EQ(row_count(), 0);
}

TEST_F(SqliteDb, CommittedTransactionIsVisibleToAnotherConnection) {
  {
    ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::begin(*db_, Transaction::Kind::kImmediate));
    ASSERT_OK(db_->exec("INSERT INTO t (n) VALUES (1)"));
    ASSERT_OK(txn.commit());
  }
  ASSERT_OK_AND_ASSIGN(auto other, Database::open(dir_.file("t.db")));
  ASSERT_OK_AND_ASSIGN(int64_t count, other->query_int64("SELECT COUNT(*) FROM t"));
  EXPECT_EQ(count, 1);
}

TEST_F(SqliteDb, ExplicitRollbackDiscardsAndEndsTheTransaction) {
  ASSERT_OK_AND_ASSIGN(Transaction txn, Transaction::begin(*db_, Transaction::Kind::kDeferred));
  ASSERT_OK(db_->exec("INSERT INTO t (n) VALUES (1)"));
  ASSERT_OK(txn.rollback());
  EXPECT_TRUE(db_->autocommit());
  EXPECT_EQ(row_count(), 0);
  EXPECT_FALSE(txn.commit().ok());
}

TEST_F(SqliteDb, SyntaxErrorNamesTheSqlAndSqlitesMessage) {
  auto bad = db_->prepare("SELEC n FROM t");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  EXPECT_NE(bad.error().message.find("prepare 'SELEC n FROM t'"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos) << bad.error().message;
}

TEST_F(SqliteDb, ConstraintFailureIsInvalidArgumentNamingTheStep) {
  ASSERT_OK(db_->exec("CREATE TABLE u (x INTEGER NOT NULL)"));
  ASSERT_OK_AND_ASSIGN(Statement insert, db_->prepare("INSERT INTO u (x) VALUES (?1)"));
  ASSERT_OK(insert.bind_null(1));
  Status status = insert.run();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message.find("step 'INSERT INTO u"), std::string::npos)
      << status.error().message;
  EXPECT_NE(status.error().message.find("NOT NULL constraint failed"), std::string::npos)
      << status.error().message;
}

TEST_F(SqliteDb, PrepareRefusesMoreThanOneStatement) {
  auto two = db_->prepare("SELECT 1; DROP TABLE t");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message.find("more than one statement"), std::string::npos);
  EXPECT_EQ(row_count(), 0);  // t still exists
  EXPECT_TRUE(db_->prepare("SELECT 1 ;  \n").ok());
}

TEST_F(SqliteDb, BindingAMissingParameterIsAnError) {
  ASSERT_OK_AND_ASSIGN(Statement insert, db_->prepare("INSERT INTO t (n) VALUES (?1)"));
  Status status = insert.bind(2, int64_t{1});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("bind #2"), std::string::npos) << status.error().message;
}

TEST_F(SqliteDb, WriteLockHeldElsewhereIsResourceExhaustedAfterTheBusyTimeout) {
  ASSERT_OK(db_->exec("PRAGMA journal_mode = WAL"));
  ASSERT_OK_AND_ASSIGN(auto other, Database::open(dir_.file("t.db")));
  ASSERT_OK(other->exec("PRAGMA busy_timeout = 0"));
  ASSERT_OK_AND_ASSIGN(Transaction held, Transaction::begin(*db_, Transaction::Kind::kImmediate));
  auto blocked = Transaction::begin(*other, Transaction::Kind::kImmediate);
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, ErrorCode::kResourceExhausted) << blocked.error().message;
}

TEST_F(SqliteDb, ScriptRunsEveryStatementAndReportsTheFailingOne) {
  ASSERT_OK(db_->exec_script("INSERT INTO t (n) VALUES (1); INSERT INTO t (n) VALUES (2);"));
  EXPECT_EQ(row_count(), 2);
  Status status = db_->exec_script("INSERT INTO t (n) VALUES (3); INSERT INTO nope VALUES (1);");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("no such table: nope"), std::string::npos)
      << status.error().message;
}

}  // namespace
}  // namespace gemmad::store
