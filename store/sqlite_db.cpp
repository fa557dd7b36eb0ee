// RAII over the sqlite3 C API; see sqlite_db.h for the contracts.
#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <climits>

namespace gemmad::store {
namespace {

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {  // the primary code; extended codes keep it in the low byte
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_FULL:  // a full disk: refuse new turns as "busy", the daemon keeps serving
      return ErrorCode::kResourceExhausted;
    case SQLITE_CONSTRAINT:
      return ErrorCode::kInvalidArgument;
    case SQLITE_TOOBIG:
      return ErrorCode::kOutOfRange;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_PERM:
      return ErrorCode::kIo;
    default:
      return ErrorCode::kInternal;
  }
}

// Keeps error messages to one readable line: the first 60 bytes of the SQL, whitespace folded.
std::string shorten_sql(std::string_view sql) {
  constexpr size_t kMaxShown = 60;
  std::string out;
  bool last_space = true;
  for (char c : sql) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && last_space) continue;
    out.push_back(space ? ' ' : c);
    last_space = space;
    if (out.size() >= kMaxShown) {
      out += "...";
      break;
    }
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

bool only_separators(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') return false;
  }
  return true;
}

}  // namespace

Error sqlite_error(int rc, std::string_view operation, sqlite3* db) {
  // sqlite3_errmsg describes the most recent failure on the connection, which is `rc` when
  // called straight after the failing call; without a connection use the generic text.
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return make_error(code_for(rc), std::string(operation) + ": " + detail + " (sqlite code " +
                                      std::to_string(rc) + ")");
}

std::optional<int> sqlite_code_of(const Error& error) {
  static constexpr std::string_view kTag = " (sqlite code ";
  const std::string& m = error.message;
  const std::size_t at = m.rfind(kTag);
  if (at == std::string::npos || m.empty() || m.back() != ')') return std::nullopt;
  int code = 0;
  for (std::size_t i = at + kTag.size(); i + 1 < m.size(); ++i) {
    if (m[i] < '0' || m[i] > '9' || code > 1'000'000) return std::nullopt;
    code = code * 10 + (m[i] - '0');
  }
  return code;
}

// ---- Statement ----

Statement::Statement(sqlite3_stmt* stmt, sqlite3* db, std::string sql)
    : stmt_(stmt), db_(db), sql_(std::move(sql)) {}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(std::exchange(other.db_, nullptr)),
      sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

std::string Statement::operation(std::string_view verb) const {
  return std::string(verb) + " '" + shorten_sql(sql_) + "'";
}

Status Statement::bind(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return sqlite_error(rc, operation("bind #" + std::to_string(index)), db_);
  return {};
}

Status Statement::bind(int index, std::string_view text) {
  // sqlite takes the length as int; longer text than INT_MAX is refused here, not truncated.
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return make_error(ErrorCode::kOutOfRange, operation("bind #" + std::to_string(index)) +
                                                  ": text of " + std::to_string(text.size()) +
                                                  " bytes exceeds " + std::to_string(INT_MAX));
  }
  const int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return sqlite_error(rc, operation("bind #" + std::to_string(index)), db_);
  return {};
}

Status Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return sqlite_error(rc, operation("bind #" + std::to_string(index)), db_);
  return {};
}

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = sqlite_error(rc, operation("step"), db_);
  sqlite3_reset(stmt_);  // release the statement's locks; the error is already captured
  return error;
}

Status Statement::run() {
  while (true) {
    GEMMAD_ASSIGN_OR_RETURN(const bool row, step());
    if (!row) return {};
  }
}

Status Statement::reset() {
  const int rc = sqlite3_reset(stmt_);
  if (rc != SQLITE_OK) return sqlite_error(rc, operation("reset"), db_);
  return {};
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

Status Statement::bind(int index, std::span<const uint8_t> blob) {
  if (blob.size() > static_cast<size_t>(INT_MAX)) {
    return make_error(ErrorCode::kOutOfRange, operation("bind #" + std::to_string(index)) +
                                                  ": blob of " + std::to_string(blob.size()) +
                                                  " bytes exceeds " + std::to_string(INT_MAX));
  }
  // A zero-length blob with a null pointer would bind NULL: give sqlite a valid pointer.
  static const uint8_t kEmpty = 0;
  const int rc = sqlite3_bind_blob(stmt_, index, blob.empty() ? &kEmpty : blob.data(),
                                   static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return sqlite_error(rc, operation("bind #" + std::to_string(index)), db_);
  return {};
}

std::vector<uint8_t> Statement::column_blob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  const int bytes = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || bytes <= 0) return {};
  return std::vector<uint8_t>(data, data + bytes);
}

std::string Statement::column_text(int column) const {
  // Order matters: column_text converts the value first, then column_bytes measures it.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int bytes = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || bytes <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(bytes));
}

// ---- Database ----

Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(rc, "open '" + path + "'", db);
    sqlite3_close_v2(db);  // sqlite allocates a handle even on failure (null is a no-op)
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Database>(new Database(db, path));
}

Database::~Database() {
  // close_v2 defers the close until every statement is finalised, so an out-of-order
  // destruction cannot leak the connection or fail with SQLITE_BUSY.
  sqlite3_close_v2(db_);
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (sql.size() > static_cast<size_t>(INT_MAX)) {
    return make_error(ErrorCode::kOutOfRange, "prepare: SQL of " + std::to_string(sql.size()) +
                                                  " bytes exceeds " + std::to_string(INT_MAX));
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqlite_error(rc, "prepare '" + shorten_sql(sql) + "'", db_);
  }
  Statement statement(stmt, db_, std::string(sql));
  if (stmt == nullptr) {
    return make_error(ErrorCode::kInternal, "prepare '" + shorten_sql(sql) + "': no statement");
  }
  if (tail != nullptr && !only_separators(tail, sql.data() + sql.size())) {
    return make_error(ErrorCode::kInternal,
                      "prepare '" + shorten_sql(sql) + "': more than one statement");
  }
  return statement;
}

Status Database::exec(std::string_view sql) {
  GEMMAD_ASSIGN_OR_RETURN(Statement statement, prepare(sql));
  return statement.run();
}

Status Database::exec_script(std::string_view sql) {
  const std::string script(sql);  // sqlite3_exec needs a NUL-terminated string
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return make_error(code_for(rc), "exec script '" + shorten_sql(sql) + "': " + text +
                                      " (sqlite code " + std::to_string(rc) + ")");
}

Result<int64_t> Database::query_int64(std::string_view sql) {
  GEMMAD_ASSIGN_OR_RETURN(Statement statement, prepare(sql));
  GEMMAD_ASSIGN_OR_RETURN(const bool row, statement.step());
  if (!row) return make_error(ErrorCode::kNotFound, "query '" + shorten_sql(sql) + "': no row");
  return statement.column_int64(0);
}

Result<std::string> Database::query_text(std::string_view sql) {
  GEMMAD_ASSIGN_OR_RETURN(Statement statement, prepare(sql));
  GEMMAD_ASSIGN_OR_RETURN(const bool row, statement.step());
  if (!row) return make_error(ErrorCode::kNotFound, "query '" + shorten_sql(sql) + "': no row");
  return statement.column_text(0);
}

int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

bool Database::autocommit() const {
  return sqlite3_get_autocommit(db_) != 0;
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Database& db, Kind kind) {
  switch (kind) {
    case Kind::kDeferred:
      GEMMAD_TRY(db.exec("BEGIN DEFERRED"));
      break;
    case Kind::kImmediate:
      GEMMAD_TRY(db.exec("BEGIN IMMEDIATE"));
      break;
  }
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Nothing to report a failure to here; a failed ROLLBACK leaves sqlite to roll back when
  // the connection closes. Some errors (e.g. SQLITE_FULL) already ended the transaction.
  if (db_ != nullptr && !db_->autocommit()) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (db_ == nullptr) return make_error(ErrorCode::kInternal, "commit: transaction not open");
  // On failure (e.g. SQLITE_BUSY) the transaction stays open and the destructor rolls back.
  GEMMAD_TRY(db_->exec("COMMIT"));
  db_ = nullptr;
  return {};
}

Status Transaction::rollback() {
  if (db_ == nullptr) return make_error(ErrorCode::kInternal, "rollback: transaction not open");
  Database* db = std::exchange(db_, nullptr);
  if (db->autocommit()) return {};
  return db->exec("ROLLBACK");
}

}  // namespace gemmad::store
