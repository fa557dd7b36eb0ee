// SessionStore: opening and configuring the database, and the app-scoped session queries.
#include "store/session_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "store/migrations.h"
#include "store/session_id.h"
#include "store/sqlite_db.h"
#include "store/store_checks.h"

namespace gemmad::store {
namespace {

constexpr std::string_view kSessionColumns =
    "id, app_id, title, system_prompt, options, created, updated, turns";

Status check_size(std::string_view what, size_t size, size_t limit, std::string_view limit_name) {
  if (size <= limit) return {};
  return make_error(ErrorCode::kOutOfRange, std::string(what) + " of " + std::to_string(size) +
                                                " bytes exceeds " + std::string(limit_name) + " (" +
                                                std::to_string(limit) + ")");
}

Status check_tokens(std::string_view what, int64_t tokens) {
  if (tokens >= 0) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    std::string(what) + " is " + std::to_string(tokens) + "; must be >= 0");
}

// The caller's id is outside input (a request field): malformed is a usage error, while a
// well-formed id of another app is "not found" with the very message a missing one gets.
Status check_session_id(std::string_view id) {
  if (is_valid_session_id(id)) return {};
  return make_error(ErrorCode::kInvalidArgument, "session id '" + std::string(id.substr(0, 64)) +
                                                     "' is not " + std::to_string(kSessionIdChars) +
                                                     " lowercase hex digits");
}

Error session_not_found(std::string_view id) {
  return make_error(ErrorCode::kNotFound, "session '" + std::string(id) + "' not found");
}

int64_t clamp_limit(size_t limit) {
  return static_cast<int64_t>(
      std::min<size_t>(limit, static_cast<size_t>(std::numeric_limits<int64_t>::max())));
}

Session read_session(const Statement& row) {
  Session session;
  session.id = row.column_text(0);
  session.app = AppId{row.column_int64(1)};
  session.title = row.column_text(2);
  session.system_prompt = row.column_text(3);
  session.options_json = row.column_text(4);
  session.created_ms = row.column_int64(5);
  session.updated_ms = row.column_int64(6);
  session.turns = row.column_int64(7);
  return session;
}

// The file is not trusted to hold only what the CHECK constraints allow (it may have been
// edited by hand): an unknown spelling is an error, not a crash.
Result<Role> parse_role(const std::string& text) {
  if (text == "system") return Role::kSystem;
  if (text == "user") return Role::kUser;
  if (text == "model") return Role::kModel;
  if (text == "tool") return Role::kTool;
  return make_error(ErrorCode::kIo, "messages.role '" + text + "' is not system|user|model");
}

Result<MessageStatus> parse_status(const std::string& text) {
  if (text == "complete") return MessageStatus::kComplete;
  if (text == "interrupted") return MessageStatus::kInterrupted;
  if (text == "truncated") return MessageStatus::kTruncated;
  return make_error(ErrorCode::kIo,
                    "messages.status '" + text + "' is not complete|interrupted|truncated");
}

// Creates the file 0600 before sqlite does (sqlite would use 0644 minus umask); sqlite then
// creates -wal and -shm with the database file's mode. An existing file keeps its mode.
Status create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kIo,
                      "cannot create database '" + path + "': " + std::strerror(errno));
  }
  ::close(fd);
  return {};
}

// Per-connection settings; see session_store.h "Durability" for why synchronous=FULL.
Status configure(Database& db, int busy_timeout_ms) {
  // First, so that the journal_mode switch below already waits for another process's lock.
  GEMMAD_TRY(db.exec("PRAGMA busy_timeout = " + std::to_string(std::max(0, busy_timeout_ms))));
  GEMMAD_ASSIGN_OR_RETURN(const std::string mode, db.query_text("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return make_error(ErrorCode::kUnsupported, "journal_mode is '" + mode +
                                                   "' after asking for WAL (a filesystem "
                                                   "without shared memory, or an in-memory "
                                                   "database?)");
  }
  GEMMAD_TRY(db.exec("PRAGMA synchronous = FULL"));
  GEMMAD_TRY(db.exec("PRAGMA foreign_keys = ON"));
  GEMMAD_TRY(db.exec("PRAGMA secure_delete = ON"));
  // A sqlite built without foreign keys ignores the PRAGMA; ON DELETE CASCADE would then
  // silently leave messages behind, so check it took.
  GEMMAD_ASSIGN_OR_RETURN(const int64_t fk, db.query_int64("PRAGMA foreign_keys"));
  if (fk != 1) return make_error(ErrorCode::kUnsupported, "sqlite ignores foreign_keys = ON");
  return {};
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kSystem:
      return "system";
    case Role::kUser:
      return "user";
    case Role::kModel:
      return "model";
    case Role::kTool:
      return "tool";
  }
  return "unknown";
}

const char* message_status_name(MessageStatus status) {
  switch (status) {
    case MessageStatus::kComplete:
      return "complete";
    case MessageStatus::kInterrupted:
      return "interrupted";
    case MessageStatus::kTruncated:
      return "truncated";
  }
  return "unknown";
}

SessionStore::SessionStore(std::unique_ptr<Database> db, StoreOptions options)
    : db_(std::move(db)), options_(std::move(options)) {}

SessionStore::~SessionStore() = default;

Result<std::unique_ptr<SessionStore>> SessionStore::open(const std::string& path,
                                                         StoreOptions options) {
  const std::string where = "database '" + path + "'";
  // The daemon calls us from several threads on one connection behind our mutex; that still
  // needs a sqlite built thread-safe (its allocator and global state are shared).
  if (sqlite3_threadsafe() == 0) {
    return make_error(ErrorCode::kUnsupported, where + ": sqlite was built without threads");
  }
  GEMMAD_TRY(create_private_file(path));
  GEMMAD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::open(path));
  if (Status s = configure(*db, options.busy_timeout_ms); !s.ok()) {
    return std::move(s).error().with_context(where);
  }
  // A damaged or foreign file is refused here, naming it, not served with errors later.
  std::error_code size_error;
  const auto bytes = std::filesystem::file_size(path, size_error);
  GEMMAD_TRY(check_integrity(*db, size_error ? 0 : static_cast<std::uint64_t>(bytes)));
  GEMMAD_ASSIGN_OR_RETURN(const int version, schema_version(*db));
  if (version >= 0 && version <= latest_schema_version()) {
    GEMMAD_TRY(verify_schema(*db, schema_migrations(), version));
  }
  GEMMAD_TRY(migrate(*db, schema_migrations()));
  return std::unique_ptr<SessionStore>(new SessionStore(std::move(db), std::move(options)));
}

template <typename T>
Result<T> SessionStore::scrubbed(std::string_view what, Result<T> result) const {
  if (result.ok()) return result;
  const std::optional<int> code = sqlite_code_of(result.error());
  // Our own checks already say field, value and limit; only sqlite's failures are rewritten.
  if (!code) return result;
  // The detail (SQL text and sqlite's message, never a bound value) is for the log.
  if (options_.log_error) {
    options_.log_error("session store: cannot " + std::string(what) + ": " +
                       result.error().message);
  }
  const int primary = *code & 0xFF;
  std::string message = "session store cannot " + std::string(what) + ": " +
                        sqlite3_errstr(primary) + " (sqlite code " + std::to_string(*code) +
                        "; details in the daemon log)";
  if (primary == SQLITE_FULL) message += "; free disk space, then retry";
  return make_error(result.error().code, std::move(message));
}

int64_t SessionStore::now_ms() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<AppId> SessionStore::ensure_app(uint32_t uid, std::string_view name) {
  return scrubbed("register the app", [&]() -> Result<AppId> {
    if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "app name is empty");
    GEMMAD_TRY(check_size("app name", name.size(), options_.limits.max_app_name_bytes,
                          "max_app_name_bytes"));
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Statement find,
                            db_->prepare("SELECT id FROM apps WHERE uid = ?1 AND name = ?2"));
    GEMMAD_TRY(find.bind_all(int64_t{uid}, name));
    GEMMAD_ASSIGN_OR_RETURN(bool row, find.step());
    if (row) return AppId{find.column_int64(0)};
    // Not there yet. DO NOTHING covers another process inserting it in between; re-read after.
    GEMMAD_ASSIGN_OR_RETURN(
        Statement insert, db_->prepare("INSERT INTO apps (uid, name, created) VALUES (?1, ?2, ?3) "
                                       "ON CONFLICT (uid, name) DO NOTHING"));
    GEMMAD_TRY(insert.bind_all(int64_t{uid}, name, now_ms()));
    GEMMAD_TRY(insert.run());
    GEMMAD_TRY(find.reset());
    GEMMAD_ASSIGN_OR_RETURN(row, find.step());
    if (!row) return make_error(ErrorCode::kInternal, "app row missing right after insert");
    return AppId{find.column_int64(0)};
  }());
}

Result<Session> SessionStore::create_session(AppId app, std::string_view title,
                                             std::string_view system_prompt,
                                             std::string_view options_json) {
  return scrubbed("create a session", [&]() -> Result<Session> {
    const Limits& limits = options_.limits;
    GEMMAD_TRY(check_size("title", title.size(), limits.max_title_bytes, "max_title_bytes"));
    GEMMAD_TRY(check_size("system prompt", system_prompt.size(), limits.max_message_bytes,
                          "max_message_bytes"));
    GEMMAD_TRY(check_size("options_json", options_json.size(), limits.max_options_bytes,
                          "max_options_bytes"));
    if (options_json.empty()) options_json = "{}";
    const nlohmann::json parsed = nlohmann::json::parse(options_json, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return make_error(ErrorCode::kInvalidArgument, "options_json is not a JSON object");
    }

    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn,
                            Transaction::begin(*db_, Transaction::Kind::kImmediate));
    GEMMAD_ASSIGN_OR_RETURN(Statement find_app,
                            db_->prepare("SELECT uid, name, (SELECT COUNT(*) FROM sessions WHERE "
                                         "app_id = ?1) FROM apps WHERE id = ?1"));
    GEMMAD_TRY(find_app.bind_all(app.value));
    GEMMAD_ASSIGN_OR_RETURN(const bool found, find_app.step());
    if (!found) {
      return make_error(ErrorCode::kNotFound, "app id " + std::to_string(app.value) + " not found");
    }
    const int64_t count = find_app.column_int64(2);
    if (count >= limits.max_sessions_per_app) {
      return make_error(ErrorCode::kOutOfRange, "app '" + find_app.column_text(1) + "' (uid " +
                                                    std::to_string(find_app.column_int64(0)) +
                                                    ") has " + std::to_string(count) +
                                                    " sessions; max_sessions_per_app is " +
                                                    std::to_string(limits.max_sessions_per_app));
    }

    Session session;
    GEMMAD_ASSIGN_OR_RETURN(session.id, new_session_id());
    session.app = app;
    session.title = std::string(title);
    session.system_prompt = std::string(system_prompt);
    session.options_json = std::string(options_json);
    session.created_ms = session.updated_ms = now_ms();
    GEMMAD_ASSIGN_OR_RETURN(Statement insert,
                            db_->prepare("INSERT INTO sessions (id, app_id, title, system_prompt, "
                                         "options, created, updated, turns) "
                                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 0)"));
    GEMMAD_TRY(insert.bind_all(session.id, app.value, session.title, session.system_prompt,
                               session.options_json, session.created_ms));
    GEMMAD_TRY(insert.run());
    GEMMAD_TRY(txn.commit());
    return session;
  }());
}

Result<Session> SessionStore::load_session(AppId app, std::string_view id) {
  GEMMAD_TRY(check_session_id(id));
  GEMMAD_ASSIGN_OR_RETURN(Statement query,
                          db_->prepare("SELECT " + std::string(kSessionColumns) +
                                       " FROM sessions WHERE id = ?1 AND app_id = ?2"));
  GEMMAD_TRY(query.bind_all(id, app.value));
  GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
  if (!row) return session_not_found(id);
  return read_session(query);
}

Result<std::vector<Message>> SessionStore::load_messages(std::string_view session_id) {
  GEMMAD_ASSIGN_OR_RETURN(Statement query,
                          db_->prepare("SELECT m.seq, m.role, m.text, m.tokens, m.created, "
                                       "m.status, COALESCE(t.tool_result, 0), "
                                       "COALESCE(t.tool_name, ''), COALESCE(t.tool_call_id, ''), "
                                       "COALESCE(t.tool_calls, '') FROM messages m "
                                       "LEFT JOIN message_tools t ON t.message_id = m.id "
                                       "WHERE m.session_id = ?1 ORDER BY m.seq"));
  GEMMAD_TRY(query.bind_all(session_id));
  std::vector<Message> out;
  while (true) {
    GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) break;
    Message message;
    message.seq = query.column_int64(0);
    GEMMAD_ASSIGN_OR_RETURN(message.role, parse_role(query.column_text(1)));
    message.text = query.column_text(2);
    message.tokens = query.column_int64(3);
    message.created_ms = query.column_int64(4);
    GEMMAD_ASSIGN_OR_RETURN(message.status, parse_status(query.column_text(5)));
    // A tool result is stored as a 'user' row (migration 3 keeps v2's role CHECK).
    if (query.column_int64(6) == 1) message.role = Role::kTool;
    message.tool_name = query.column_text(7);
    message.tool_call_id = query.column_text(8);
    message.tool_calls_json = query.column_text(9);
    out.push_back(std::move(message));
  }
  return out;
}

Result<Session> SessionStore::get_session(AppId app, std::string_view id) {
  return scrubbed("read the session", [&]() -> Result<Session> {
    std::lock_guard lock(mutex_);
    return load_session(app, id);
  }());
}

Result<std::vector<Session>> SessionStore::list_sessions(AppId app, size_t limit) {
  return scrubbed("list sessions", [&]() -> Result<std::vector<Session>> {
    std::lock_guard lock(mutex_);
    // rowid breaks ties between sessions updated in the same millisecond: newest created first.
    GEMMAD_ASSIGN_OR_RETURN(Statement query,
                            db_->prepare("SELECT " + std::string(kSessionColumns) +
                                         " FROM sessions WHERE app_id = ?1 "
                                         "ORDER BY updated DESC, rowid DESC LIMIT ?2"));
    GEMMAD_TRY(query.bind_all(app.value, clamp_limit(limit)));
    std::vector<Session> out;
    while (true) {
      GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      out.push_back(read_session(query));
    }
    return out;
  }());
}

Result<int64_t> SessionStore::count_sessions(AppId app) {
  return scrubbed("count sessions", [&]() -> Result<int64_t> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Statement query,
                            db_->prepare("SELECT COUNT(*) FROM sessions WHERE app_id = ?1"));
    GEMMAD_TRY(query.bind_all(app.value));
    GEMMAD_TRY(query.step());
    return query.column_int64(0);
  }());
}

Result<int64_t> SessionStore::count_all_sessions() {
  std::lock_guard lock(mutex_);
  GEMMAD_ASSIGN_OR_RETURN(Statement query, db_->prepare("SELECT COUNT(*) FROM sessions"));
  GEMMAD_TRY(query.step());
  return query.column_int64(0);
}

Result<std::vector<AdminSessionInfo>> SessionStore::list_all_sessions(size_t limit) {
  return scrubbed("list sessions", [&]() -> Result<std::vector<AdminSessionInfo>> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(
        Statement query,
        db_->prepare("SELECT s.id, s.app_id, s.title, s.system_prompt, s.options, s.created, "
                     "s.updated, s.turns, a.uid, a.name FROM sessions s JOIN apps a "
                     "ON a.id = s.app_id ORDER BY s.updated DESC, s.rowid DESC LIMIT ?1"));
    GEMMAD_TRY(query.bind_all(clamp_limit(limit)));
    std::vector<AdminSessionInfo> out;
    while (true) {
      GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      AdminSessionInfo info;
      info.session = read_session(query);
      info.uid = static_cast<uint32_t>(query.column_int64(8));
      info.app_name = query.column_text(9);
      out.push_back(std::move(info));
    }
    return out;
  }());
}

Result<std::vector<Message>> SessionStore::messages(AppId app, std::string_view session_id) {
  return scrubbed("read the messages", [&]() -> Result<std::vector<Message>> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn,
                            Transaction::begin(*db_, Transaction::Kind::kDeferred));
    GEMMAD_TRY(load_session(app, session_id));
    return load_messages(session_id);  // txn (read only) ends on return
  }());
}

Result<Session> SessionStore::append_turn(AppId app, std::string_view session_id,
                                          const NewTurn& turn) {
  return scrubbed("store the turn", [&]() -> Result<Session> {
    const size_t max_bytes = options_.limits.max_message_bytes;
    GEMMAD_TRY(check_size("user message", turn.user_text.size(), max_bytes, "max_message_bytes"));
    GEMMAD_TRY(check_size("model message", turn.model_text.size(), max_bytes, "max_message_bytes"));
    for (const NewToolResult& r : turn.tool_results) {
      GEMMAD_TRY(check_size("tool result", r.text.size(), max_bytes, "max_message_bytes"));
      GEMMAD_TRY(check_tokens("tool result tokens", r.tokens));
    }
    GEMMAD_TRY(check_size("tool calls", turn.model_tool_calls_json.size(), max_bytes,
                          "max_message_bytes"));
    GEMMAD_TRY(check_tokens("user_tokens", turn.user_tokens));
    GEMMAD_TRY(check_tokens("model_tokens", turn.model_tokens));

    std::lock_guard lock(mutex_);
    // docs/DESIGN.md "Data flow" step 6: both messages and the session bump in one transaction; any
    // early return below rolls all of it back (Transaction's destructor).
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn,
                            Transaction::begin(*db_, Transaction::Kind::kImmediate));
    GEMMAD_ASSIGN_OR_RETURN(Session session, load_session(app, session_id));

    GEMMAD_ASSIGN_OR_RETURN(
        Statement last,
        db_->prepare("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?1"));
    GEMMAD_TRY(last.bind_all(session_id));
    GEMMAD_TRY(last.step());
    const int64_t user_seq = last.column_int64(0) + 1;
    const int64_t now = now_ms();

    GEMMAD_ASSIGN_OR_RETURN(Statement insert,
                            db_->prepare("INSERT INTO messages (session_id, seq, role, text, "
                                         "tokens, created, status) "
                                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    GEMMAD_ASSIGN_OR_RETURN(Statement tools,
                            db_->prepare("INSERT INTO message_tools (message_id, tool_result, "
                                         "tool_name, tool_call_id, tool_calls) "
                                         "VALUES (?1, ?2, ?3, ?4, ?5)"));
    int64_t seq = user_seq;
    const auto add = [&](Role role, std::string_view text, int64_t tokens,
                         MessageStatus status) -> Status {
      GEMMAD_TRY(insert.reset());
      // A tool result is a 'user' row plus its message_tools row (migration 3).
      GEMMAD_TRY(insert.bind_all(session_id, seq++,
                                 role_name(role == Role::kTool ? Role::kUser : role), text, tokens,
                                 now, message_status_name(status)));
      return insert.run();
    };
    const auto add_tools = [&](bool result, std::string_view name, std::string_view call_id,
                               std::string_view calls) -> Status {
      GEMMAD_TRY(tools.reset());
      GEMMAD_TRY(
          tools.bind_all(db_->last_insert_rowid(), int64_t{result ? 1 : 0}, name, call_id, calls));
      return tools.run();
    };
    for (const NewToolResult& r : turn.tool_results) {
      GEMMAD_TRY(add(Role::kTool, r.text, r.tokens, MessageStatus::kComplete));
      GEMMAD_TRY(add_tools(true, r.name, r.call_id, ""));
    }
    if (!turn.user_text.empty() || turn.tool_results.empty()) {
      GEMMAD_TRY(add(Role::kUser, turn.user_text, turn.user_tokens, MessageStatus::kComplete));
      GEMMAD_TRY(insert_media(app, db_->last_insert_rowid(), turn.user_media, now));
    }
    if (options_.between_turn_inserts) GEMMAD_TRY(options_.between_turn_inserts());
    GEMMAD_TRY(add(Role::kModel, turn.model_text, turn.model_tokens, turn.model_status));
    if (!turn.model_tool_calls_json.empty()) {
      GEMMAD_TRY(add_tools(false, "", "", turn.model_tool_calls_json));
    }

    // MAX keeps `updated` monotonic if the wall clock steps back.
    GEMMAD_ASSIGN_OR_RETURN(
        Statement bump, db_->prepare("UPDATE sessions SET turns = turns + 1, "
                                     "updated = MAX(updated, ?3) WHERE id = ?1 AND app_id = ?2"));
    GEMMAD_TRY(bump.bind_all(session_id, app.value, now));
    GEMMAD_TRY(bump.run());
    if (db_->changes() != 1) return make_error(ErrorCode::kInternal, "session bump changed no row");
    GEMMAD_TRY(txn.commit());

    session.turns += 1;
    session.updated_ms = std::max(session.updated_ms, now);
    return session;
  }());
}

Status SessionStore::set_title(AppId app, std::string_view session_id, std::string_view title) {
  return scrubbed("rename the session", [&]() -> Status {
    GEMMAD_TRY(check_session_id(session_id));
    GEMMAD_TRY(
        check_size("title", title.size(), options_.limits.max_title_bytes, "max_title_bytes"));
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Statement update,
                            db_->prepare("UPDATE sessions SET title = ?3 WHERE id = ?1 AND "
                                         "app_id = ?2"));
    GEMMAD_TRY(update.bind_all(session_id, app.value, title));
    GEMMAD_TRY(update.run());
    if (db_->changes() == 0) return session_not_found(session_id);
    return {};
  }());
}

Status SessionStore::delete_session(AppId app, std::string_view session_id) {
  return scrubbed("delete the session", [&]() -> Status {
    GEMMAD_TRY(check_session_id(session_id));
    std::lock_guard lock(mutex_);
    // Messages go by ON DELETE CASCADE (foreign_keys is checked ON at open).
    GEMMAD_ASSIGN_OR_RETURN(Statement erase,
                            db_->prepare("DELETE FROM sessions WHERE id = ?1 AND app_id = ?2"));
    GEMMAD_TRY(erase.bind_all(session_id, app.value));
    GEMMAD_TRY(erase.run());
    if (db_->changes() == 0) return session_not_found(session_id);
    // secure_delete zeroed the rows in the pages, but the WAL still holds the frames that
    // wrote them. A truncating checkpoint copies the zeroed pages home and empties the WAL, so
    // no copy of the text is left in any file (tested by searching the files).
    return remove_wal_copies();
  }());
}

const char* media_kind_name(MediaKind kind) {
  return kind == MediaKind::kImage ? "image" : "audio";
}

Status SessionStore::insert_media(AppId app, int64_t message_id, std::span<const NewMedia> media,
                                  int64_t now) {
  if (media.empty()) return {};
  GEMMAD_ASSIGN_OR_RETURN(
      Statement used,
      db_->prepare("SELECT COALESCE(SUM(bytes), 0) FROM media_blobs WHERE app_id = ?1"));
  GEMMAD_TRY(used.bind_all(app.value));
  GEMMAD_TRY(used.step());
  int64_t total = used.column_int64(0);
  GEMMAD_ASSIGN_OR_RETURN(Statement find, db_->prepare("SELECT id FROM media_blobs WHERE "
                                                       "app_id = ?1 AND sha256 = ?2"));
  GEMMAD_ASSIGN_OR_RETURN(
      Statement add_blob,
      db_->prepare("INSERT INTO media_blobs (app_id, sha256, kind, mime, "
                   "bytes, data, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  GEMMAD_ASSIGN_OR_RETURN(Statement link,
                          db_->prepare("INSERT INTO message_media (message_id, ord, blob_id, "
                                       "text_offset, token_budget) VALUES (?1, ?2, ?3, ?4, ?5)"));
  for (size_t i = 0; i < media.size(); ++i) {
    const NewMedia& m = media[i];
    GEMMAD_TRY(check_size(std::string(media_kind_name(m.kind)) + " " + std::to_string(i),
                          m.data.size(), options_.limits.max_media_bytes, "max_media_bytes"));
    const std::string digest = sha256_hex(m.data);
    GEMMAD_TRY(find.reset());
    GEMMAD_TRY(find.bind_all(app.value, digest));
    GEMMAD_ASSIGN_OR_RETURN(const bool known, find.step());
    int64_t blob_id = known ? find.column_int64(0) : 0;
    if (!known) {
      total += static_cast<int64_t>(m.data.size());
      if (total > options_.limits.max_media_bytes_per_app) {
        return make_error(ErrorCode::kOutOfRange,
                          "stored media of this app would be " + std::to_string(total) +
                              " bytes; the quota is " +
                              std::to_string(options_.limits.max_media_bytes_per_app) +
                              " (media.max_bytes_per_app); delete sessions to free it");
      }
      GEMMAD_TRY(add_blob.reset());
      GEMMAD_TRY(add_blob.bind_all(app.value, digest, media_kind_name(m.kind), m.mime,
                                   static_cast<int64_t>(m.data.size()), m.data, now));
      GEMMAD_TRY(add_blob.run());
      blob_id = db_->last_insert_rowid();
    }
    GEMMAD_TRY(link.reset());
    GEMMAD_TRY(link.bind_all(message_id, static_cast<int64_t>(i), blob_id, int64_t{m.text_offset},
                             int64_t{m.token_budget}));
    GEMMAD_TRY(link.run());
  }
  return {};
}

Result<std::vector<StoredMedia>> SessionStore::session_media(AppId app,
                                                             std::string_view session_id) {
  return scrubbed("read the session's media", [&]() -> Result<std::vector<StoredMedia>> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn,
                            Transaction::begin(*db_, Transaction::Kind::kDeferred));
    GEMMAD_TRY(load_session(app, session_id));
    GEMMAD_ASSIGN_OR_RETURN(
        Statement query,
        db_->prepare("SELECT b.sha256, b.kind, b.mime, b.bytes, m.seq, l.text_offset, "
                     "l.token_budget FROM message_media l JOIN messages m ON m.id = l.message_id "
                     "JOIN media_blobs b ON b.id = l.blob_id WHERE m.session_id = ?1 "
                     "ORDER BY m.seq, l.ord"));
    GEMMAD_TRY(query.bind_all(session_id));
    std::vector<StoredMedia> out;
    while (true) {
      GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
      if (!row) break;
      out.push_back(
          {.sha256 = query.column_text(0),
           .kind = query.column_text(1) == "audio" ? MediaKind::kAudio : MediaKind::kImage,
           .mime = query.column_text(2),
           .bytes = query.column_int64(3),
           .message_seq = query.column_int64(4),
           .text_offset = static_cast<uint32_t>(query.column_int64(5)),
           .token_budget = static_cast<uint32_t>(query.column_int64(6))});
    }
    return out;
  }());
}

Result<std::vector<uint8_t>> SessionStore::media_data(AppId app, std::string_view sha256) {
  return scrubbed("read a media file", [&]() -> Result<std::vector<uint8_t>> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(
        Statement query,
        db_->prepare("SELECT data FROM media_blobs WHERE app_id = ?1 AND sha256 = ?2"));
    GEMMAD_TRY(query.bind_all(app.value, sha256));
    GEMMAD_ASSIGN_OR_RETURN(const bool row, query.step());
    if (!row) {
      return make_error(ErrorCode::kNotFound,
                        "media '" + std::string(sha256.substr(0, 64)) + "' not found");
    }
    return query.column_blob(0);
  }());
}

Result<int64_t> SessionStore::app_media_bytes(AppId app) {
  return scrubbed("count the app's media", [&]() -> Result<int64_t> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(
        Statement q,
        db_->prepare("SELECT COALESCE(SUM(bytes), 0) FROM media_blobs WHERE app_id = ?1"));
    GEMMAD_TRY(q.bind_all(app.value));
    GEMMAD_TRY(q.step());
    return q.column_int64(0);
  }());
}

Status SessionStore::remove_wal_copies() {
  GEMMAD_ASSIGN_OR_RETURN(Statement checkpoint, db_->prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  GEMMAD_ASSIGN_OR_RETURN(const bool row, checkpoint.step());
  // Column 0 is 1 when a reader (another process) kept the checkpoint from finishing.
  if (row && checkpoint.column_int64(0) != 0) {
    return make_error(ErrorCode::kResourceExhausted,
                      "deleted, but another connection to the database kept its write-ahead "
                      "log from being emptied; the deleted text stays in it until the next "
                      "checkpoint");
  }
  return {};
}

Result<SessionExport> SessionStore::export_session(AppId app, std::string_view session_id) {
  return scrubbed("export the session", [&]() -> Result<SessionExport> {
    std::lock_guard lock(mutex_);
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn,
                            Transaction::begin(*db_, Transaction::Kind::kDeferred));
    SessionExport out;
    GEMMAD_ASSIGN_OR_RETURN(out.session, load_session(app, session_id));
    GEMMAD_ASSIGN_OR_RETURN(out.messages, load_messages(session_id));
    return out;
  }());
}

}  // namespace gemmad::store
