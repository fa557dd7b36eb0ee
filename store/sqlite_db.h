// RAII over the sqlite3 C API: Database (one connection), Statement (prepare, bind, step, read
// columns) and Transaction (rolls back unless committed). Failures are Error values naming the
// SQL operation and sqlite's own message; nothing here throws or aborts.
//
// Thread safety: none. A Database and its Statements belong to one thread at a time; the owner
// (SessionStore) serialises use with its own mutex. A Statement must not outlive its Database.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gemmad::store {

// An Error for sqlite result code `rc` (extended codes are kept): "<operation>: <sqlite message>
// (sqlite code N)". BUSY/LOCKED/NOMEM/FULL map to kResourceExhausted, CONSTRAINT to
// kInvalidArgument, TOOBIG to kOutOfRange, file-level failures (CANTOPEN, IOERR, READONLY,
// NOTADB, CORRUPT, PERM) to kIo, everything else to kInternal. `db` may be null.
Error sqlite_error(int rc, std::string_view operation, sqlite3* db);
// The sqlite result code of an Error made by sqlite_error (context prefixes allowed), or
// nullopt for any other Error.
std::optional<int> sqlite_code_of(const Error& error);

// One prepared SQL statement. Parameters are 1-based, columns 0-based (as in sqlite).
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Text is copied by sqlite (SQLITE_TRANSIENT), so the argument need not outlive the call.
  Status bind(int index, int64_t value);
  Status bind(int index, std::string_view text);
  Status bind_null(int index);
  // A BLOB, copied by sqlite like text.
  Status bind(int index, std::span<const uint8_t> blob);

  // Binds args to parameters 1, 2, ... in order; stops at the first failure.
  template <typename... Args>
  Status bind_all(const Args&... args) {
    int index = 0;
    Status status;
    auto bind_one = [&](const auto& value) {
      if (status.ok()) status = bind(++index, value);
    };
    (bind_one(args), ...);
    return status;
  }

  // One step: true when a row is ready to read, false when the statement is done.
  Result<bool> step();
  // Steps until done, discarding any rows (INSERT/UPDATE/DELETE, PRAGMA setters).
  Status run();
  // Makes the statement ready to run again; bindings are kept.
  Status reset();

  int column_count() const;
  bool column_is_null(int column) const;
  int64_t column_int64(int column) const;
  // The column's bytes as text (NULL reads as ""); embedded NUL bytes are kept.
  std::string column_text(int column) const;
  // The column's bytes as a BLOB (NULL reads as empty).
  std::vector<uint8_t> column_blob(int column) const;

  const std::string& sql() const { return sql_; }

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db, std::string sql);
  // "step 'INSERT INTO messages ...'" for error messages; long SQL is shortened.
  std::string operation(std::string_view verb) const;

  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  std::string sql_;
};

// One connection to a database file.
class Database {
 public:
  // Opens (creating if missing) `path` read-write, with extended result codes. The connection
  // is opened SQLITE_OPEN_NOMUTEX: callers serialise access (see the file comment).
  static Result<std::unique_ptr<Database>> open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Exactly one SQL statement; trailing whitespace or ';' is allowed, a second statement is not.
  Result<Statement> prepare(std::string_view sql);
  // Prepares and runs one statement that takes no parameters.
  Status exec(std::string_view sql);
  // Runs a script of several ';'-separated statements without parameters (schema migrations).
  Status exec_script(std::string_view sql);
  // Runs a one-statement query and returns column 0 of its first row (NotFound if no row).
  Result<int64_t> query_int64(std::string_view sql);
  Result<std::string> query_text(std::string_view sql);

  int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;
  // True while no transaction is open.
  bool autocommit() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_ = nullptr;
  std::string path_;
};

// A transaction that rolls back on destruction unless commit() succeeded. kImmediate takes the
// write lock at BEGIN, so a write never fails half-way with SQLITE_BUSY on lock upgrade (in WAL
// mode a deferred reader that later writes cannot wait for the lock; it fails at once).
class Transaction {
 public:
  enum class Kind { kDeferred, kImmediate };

  static Result<Transaction> begin(Database& db, Kind kind);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Status commit();
  Status rollback();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_ = nullptr;  // null once committed or rolled back
};

}  // namespace gemmad::store
