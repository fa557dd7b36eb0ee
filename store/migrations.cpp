// The session store's schema migrations and the runner that applies them in order.
#include "store/migrations.h"

#include <array>
#include <string>

namespace gemmad::store {
namespace {

// Version 1: apps, sessions, messages (docs/DESIGN.md "Data flow of one chat turn" step 6).
// Timestamps are unix milliseconds. Every session query is scoped by app_id, hence the
// (app_id, updated) index that serves list_sessions and count_sessions; UNIQUE (session_id, seq)
// serves loading a session's history in order and the ON DELETE CASCADE lookup.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE apps (
  id      INTEGER PRIMARY KEY,
  uid     INTEGER NOT NULL CHECK (uid >= 0),
  name    TEXT    NOT NULL CHECK (length(name) > 0),
  created INTEGER NOT NULL,
  UNIQUE (uid, name)
);
CREATE TABLE sessions (
  id            TEXT    PRIMARY KEY NOT NULL,
  app_id        INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  title         TEXT    NOT NULL DEFAULT '',
  system_prompt TEXT    NOT NULL DEFAULT '',
  options       TEXT    NOT NULL DEFAULT '{}',
  created       INTEGER NOT NULL,
  updated       INTEGER NOT NULL,
  turns         INTEGER NOT NULL DEFAULT 0 CHECK (turns >= 0)
);
CREATE INDEX sessions_by_app_updated ON sessions (app_id, updated DESC);
CREATE TABLE messages (
  id         INTEGER PRIMARY KEY,
  session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL CHECK (seq >= 1),
  role       TEXT    NOT NULL CHECK (role IN ('system', 'user', 'model')),
  text       TEXT    NOT NULL,
  tokens     INTEGER NOT NULL CHECK (tokens >= 0),
  created    INTEGER NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('complete', 'interrupted')),
  UNIQUE (session_id, seq)
);
)sql";

// Version 2: a model reply cut by max_tokens or the context is stored as 'truncated'.
// SQLite cannot change a CHECK in place, so the messages table is rebuilt (nothing refers
// to it; its rows keep their ids).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE messages_v2 (
  id         INTEGER PRIMARY KEY,
  session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL CHECK (seq >= 1),
  role       TEXT    NOT NULL CHECK (role IN ('system', 'user', 'model')),
  text       TEXT    NOT NULL,
  tokens     INTEGER NOT NULL CHECK (tokens >= 0),
  created    INTEGER NOT NULL,
  status     TEXT    NOT NULL CHECK (status IN ('complete', 'interrupted', 'truncated')),
  UNIQUE (session_id, seq)
);
INSERT INTO messages_v2 (id, session_id, seq, role, text, tokens, created, status)
  SELECT id, session_id, seq, role, text, tokens, created, status FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v2 RENAME TO messages;
)sql";

// Tool calls and results (docs/ARCHITECTURE.md "Channels, tools and constrained output"):
// only added, nothing rewritten. A tool result is a messages row with role 'user' (the role
// CHECK of v2 stays) and a message_tools row with tool_result = 1; a model message's calls
// are a JSON array [{"id","name","arguments"}] in tool_calls.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE message_tools (
  message_id   INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  tool_result  INTEGER NOT NULL DEFAULT 0 CHECK (tool_result IN (0, 1)),
  tool_name    TEXT    NOT NULL DEFAULT '',
  tool_call_id TEXT    NOT NULL DEFAULT '',
  tool_calls   TEXT    NOT NULL DEFAULT ''
);
)sql";

// Version 4 (issue 11): images and audio of user messages. media_blobs is content-addressed
// per app (UNIQUE (app_id, sha256): one copy of a file however often the app sends it; never
// shared across apps, so one app's quota or timing says nothing of another's files).
// message_media links a message to its blobs in order; deleting a message (ON DELETE CASCADE
// from its session) removes the links, and the trigger then drops a blob no link uses, so no
// orphan blob outlives its last session.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE media_blobs (
  id      INTEGER PRIMARY KEY,
  app_id  INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
  sha256  TEXT    NOT NULL CHECK (length(sha256) = 64),
  kind    TEXT    NOT NULL CHECK (kind IN ('image', 'audio')),
  mime    TEXT    NOT NULL,
  bytes   INTEGER NOT NULL CHECK (bytes >= 0),
  data    BLOB    NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE (app_id, sha256)
);
CREATE TABLE message_media (
  message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  ord          INTEGER NOT NULL CHECK (ord >= 0),
  blob_id      INTEGER NOT NULL REFERENCES media_blobs (id),
  text_offset  INTEGER NOT NULL CHECK (text_offset >= 0),
  token_budget INTEGER NOT NULL CHECK (token_budget >= 0),
  PRIMARY KEY (message_id, ord)
);
CREATE INDEX message_media_by_blob ON message_media (blob_id);
CREATE TRIGGER media_blobs_unreferenced AFTER DELETE ON message_media
BEGIN
  DELETE FROM media_blobs WHERE id = OLD.blob_id
    AND NOT EXISTS (SELECT 1 FROM message_media WHERE blob_id = OLD.blob_id);
END;
)sql";

constexpr std::array<Migration, 4> kMigrations = {{
    {1, "apps, sessions, messages", kSchemaV1},
    {2, "truncated model messages", kSchemaV2},
    {3, "tool calls and results", kSchemaV3},
    {4, "media of messages", kSchemaV4},
}};

}  // namespace

std::span<const Migration> schema_migrations() {
  return kMigrations;
}

int latest_schema_version() {
  return kMigrations.back().version;
}

Result<int> schema_version(Database& db) {
  GEMMAD_ASSIGN_OR_RETURN(const int64_t version, db.query_int64("PRAGMA user_version"));
  return static_cast<int>(version);
}

Status migrate(Database& db, std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return make_error(ErrorCode::kInternal, "migration list: entry " + std::to_string(i) +
                                                  " has version " +
                                                  std::to_string(migrations[i].version) +
                                                  ", expected " + std::to_string(i + 1));
    }
  }
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  const std::string where = "database '" + db.path() + "'";

  // Refuse a newer database before writing anything, even when there is nothing to apply.
  GEMMAD_ASSIGN_OR_RETURN(const int found, schema_version(db));
  if (found > latest) {
    return make_error(ErrorCode::kUnsupported,
                      where + ": schema version " + std::to_string(found) +
                          " is newer than this gemmad knows (" + std::to_string(latest) +
                          "); upgrade gemmad or use another state directory");
  }
  if (found < 0) {
    return make_error(ErrorCode::kUnsupported,
                      where + ": schema version " + std::to_string(found) + " is negative");
  }

  for (const Migration& step : migrations) {
    GEMMAD_ASSIGN_OR_RETURN(Transaction txn, Transaction::begin(db, Transaction::Kind::kImmediate));
    // Re-read under the write lock: another process may have migrated since the check above.
    GEMMAD_ASSIGN_OR_RETURN(const int current, schema_version(db));
    if (current >= step.version) continue;  // txn rolls back an empty transaction
    const std::string context =
        where + ": migration " + std::to_string(step.version) + " (" + std::string(step.name) + ")";
    if (Status applied = db.exec_script(step.sql); !applied.ok()) {
      return std::move(applied).error().with_context(context);
    }
    // PRAGMA takes no bound parameters; the version is our own integer, not outside input.
    if (Status bumped = db.exec("PRAGMA user_version = " + std::to_string(step.version));
        !bumped.ok()) {
      return std::move(bumped).error().with_context(context);
    }
    if (Status committed = txn.commit(); !committed.ok()) {
      return std::move(committed).error().with_context(context);
    }
  }
  return {};
}

}  // namespace gemmad::store
