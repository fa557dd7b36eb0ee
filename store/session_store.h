// The daemon's SQLite session store: apps (uid, name), their sessions and messages.
//
// Privacy (docs/DESIGN.md "Privacy rules"): an app sees only its own sessions. Every per-app call
// takes the caller's AppId and every query filters on it, so another app's session id reads
// exactly like a missing one (kNotFound, same message). Only list_all_sessions crosses apps;
// the daemon must check the admin group before calling it.
//
// Durability (docs/DESIGN.md "Data flow" step 6, "Reliability rules"): append_turn writes the user
// and model messages and bumps the session in ONE transaction, committed before it returns.
// The database runs in WAL mode with synchronous=FULL: the WAL is fsync'ed at every commit, so
// a turn that append_turn reported is durable against a process crash AND power loss. (WAL
// with synchronous=NORMAL survives a process crash but may lose the last commits on power
// loss; an acknowledged turn must survive both, and one fsync per turn is cheap next to the
// seconds a turn takes to generate.)
//
// Thread safety: a SessionStore is safe to use from any number of threads. It holds one sqlite
// connection guarded by one mutex, so calls run one at a time; each is a few short queries.
// Other processes may open the same file (busy_timeout waits for their write lock).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gemmad::store {

class Database;

// Row id of an (uid, app name) pair, from ensure_app. A distinct type so it cannot be mixed up
// with a uid, a count or a token number.
struct AppId {
  int64_t value = 0;
  friend bool operator==(AppId, AppId) = default;
};

enum class Role { kSystem, kUser, kModel, kTool };
// kTruncated: the model's reply was cut by max_tokens or the context.
enum class MessageStatus { kComplete, kInterrupted, kTruncated };

// "system", "user", "model", "tool" / "complete", "interrupted", "truncated": the stored and
// exported spellings.
const char* role_name(Role role);
const char* message_status_name(MessageStatus status);

struct Session {
  std::string id;  // 32 lowercase hex digits (session_id.h)
  AppId app;
  std::string title;
  std::string system_prompt;
  std::string options_json;  // a JSON object: thinking on/off, sampling; opaque to the store
  int64_t created_ms = 0;    // unix milliseconds
  int64_t updated_ms = 0;    // last append_turn (never decreases)
  int64_t turns = 0;         // completed append_turn calls
};

struct Message {
  int64_t seq = 0;  // 1, 2, 3, ... within the session: user, model, user, model, ...
  Role role = Role::kUser;
  std::string text;
  int64_t tokens = 0;
  int64_t created_ms = 0;
  MessageStatus status = MessageStatus::kComplete;
  std::string tool_calls_json;  // kModel: JSON array [{"id","name","arguments"}] or ""
  std::string tool_name;        // kTool: the function whose result this is
  std::string tool_call_id;     // kTool: the call it answers ("" if the client gave none)
};

// A tool result stored ahead of the model's reply.
struct NewToolResult {
  std::string_view name;
  std::string_view call_id;
  std::string_view text;
  int64_t tokens = 0;
};

enum class MediaKind { kImage, kAudio };
const char* media_kind_name(MediaKind kind);  // "image" | "audio", the stored spelling

// An image or audio file of a user message, as append_turn stores it.
struct NewMedia {
  MediaKind kind = MediaKind::kImage;
  std::string_view mime;          // "image/png", "image/jpeg", "audio/wav"
  std::span<const uint8_t> data;  // the encoded file
  uint32_t text_offset = 0;       // its byte offset in the message text
  uint32_t token_budget = 0;      // images: soft tokens asked for; 0 = default
};

// A stored one, without its bytes (media_data reads those).
struct StoredMedia {
  std::string sha256;  // lowercase hex of the bytes: the content address
  MediaKind kind = MediaKind::kImage;
  std::string mime;
  int64_t bytes = 0;
  int64_t message_seq = 0;  // the user message carrying it
  uint32_t text_offset = 0;
  uint32_t token_budget = 0;
};

// One chat turn as append_turn stores it: the user message (always complete) and the model's
// reply, kInterrupted if generation was cancelled or cut short.
// A turn that answers tool calls has tool results and may have no user text (then no user
// message is stored).
struct NewTurn {
  std::string_view user_text;
  int64_t user_tokens = 0;
  std::string_view model_text;
  int64_t model_tokens = 0;
  MessageStatus model_status = MessageStatus::kComplete;
  std::span<const NewMedia> user_media;     // stored with the user message, in order
  std::vector<NewToolResult> tool_results;  // stored first, in order
  std::string_view model_tool_calls_json;   // the reply's calls ("" = none)
};

// A session with the app it belongs to (admin listing).
struct AdminSessionInfo {
  Session session;
  uint32_t uid = 0;
  std::string app_name;
};

struct SessionExport {
  Session session;
  std::vector<Message> messages;  // in seq order
};

// Bounds on what one app can store (docs/DESIGN.md "Bounded everything"). Exceeding one is
// kOutOfRange with a message naming the limit, the value and the bound.
struct Limits {
  int64_t max_sessions_per_app = 1000;
  size_t max_message_bytes = 1 << 20;  // each message text, and the system prompt
  size_t max_title_bytes = 1024;
  size_t max_options_bytes = 64 << 10;
  size_t max_app_name_bytes = 256;
  int64_t max_media_bytes_per_app = 256 << 20;  // stored media of one app (distinct files)
  size_t max_media_bytes = 64 << 20;            // one file
};

struct StoreOptions {
  Limits limits;
  int busy_timeout_ms = 5000;  // how long to wait for another process's write lock
  // Unix milliseconds; empty means the system clock. Tests inject a fake clock.
  std::function<int64_t()> now_ms;
  // Test seam: called inside append_turn's transaction after the user message is inserted and
  // before the model message is; an error aborts (and rolls back) the turn. Empty in production.
  std::function<Status()> between_turn_inserts;
  // Where sqlite's own failures are logged in full (SQL and sqlite's message; never a bound
  // value, so no conversation text). The Error a caller gets names the operation and sqlite's
  // generic reason only (docs/ARCHITECTURE.md "Store errors").
  std::function<void(std::string_view)> log_error;
};

class SessionStore {
 public:
  // Opens or creates the database file at `path` (created with mode 0600: only the daemon's
  // user may read conversations; sqlite gives its -wal/-shm files the same mode), sets WAL,
  // synchronous=FULL, foreign_keys=ON, secure_delete=ON (a deleted conversation is
  // overwritten, not left in free pages) and busy_timeout, then migrates the schema
  // (migrations.h). Before serving it checks the file (store_checks.h: integrity_check, or
  // quick_check for a large file) and that its schema is exactly what the migrations create.
  // Errors: kIo (cannot create/open, not a database, damaged, a schema that is not gemmad's),
  // kUnsupported (schema newer than this build, or sqlite built without thread safety / WAL).
  static Result<std::unique_ptr<SessionStore>> open(const std::string& path,
                                                    StoreOptions options = {});
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // The id of (uid, name), created on first use. kInvalidArgument for an empty name,
  // kOutOfRange past limits.max_app_name_bytes.
  Result<AppId> ensure_app(uint32_t uid, std::string_view name);

  // A new, empty session. `options_json` must be a JSON object ("" means "{}"). kOutOfRange
  // when the app already has limits.max_sessions_per_app sessions; kNotFound for an unknown app.
  Result<Session> create_session(AppId app, std::string_view title, std::string_view system_prompt,
                                 std::string_view options_json);

  // kNotFound unless session `id` exists AND belongs to `app`; kInvalidArgument if `id` is not
  // 32 lowercase hex digits.
  Result<Session> get_session(AppId app, std::string_view id);

  // The app's sessions, most recently updated first, at most `limit`.
  Result<std::vector<Session>> list_sessions(AppId app, size_t limit);
  Result<int64_t> count_sessions(AppId app);
  // Sessions of every app (metrics).
  Result<int64_t> count_all_sessions();

  // Admin only (the caller checks the admin group): every app's sessions, newest first.
  Result<std::vector<AdminSessionInfo>> list_all_sessions(size_t limit);

  // The session's messages in seq order; kNotFound as get_session.
  Result<std::vector<Message>> messages(AppId app, std::string_view session_id);

  // Stores one turn in one transaction: both messages, session.turns + 1, session.updated.
  // When it returns ok the turn is committed (see "Durability" above); on any error nothing of
  // the turn is stored. Returns the session as updated. kOutOfRange past max_message_bytes,
  // kInvalidArgument for negative token counts, kNotFound as get_session.
  Result<Session> append_turn(AppId app, std::string_view session_id, const NewTurn& turn);

  // Renames a session; `updated` is unchanged (it orders sessions by conversation activity).
  Status set_title(AppId app, std::string_view session_id, std::string_view title);

  // Deletes the session and its messages, leaving no copy of their text in the database file,
  // its free pages or its WAL (secure_delete, then a truncating checkpoint); kNotFound as
  // get_session.
  Status delete_session(AppId app, std::string_view session_id);

  // The session and all its messages, read in one transaction (a consistent snapshot).
  // session_json.h turns it into the `gemmactl session export` document.
  Result<SessionExport> export_session(AppId app, std::string_view session_id);

  // The media of a session's messages, in message order; kNotFound as get_session.
  Result<std::vector<StoredMedia>> session_media(AppId app, std::string_view session_id);
  // The bytes of one of the app's stored files; kNotFound if the app has none with `sha256`.
  Result<std::vector<uint8_t>> media_data(AppId app, std::string_view sha256);
  // Bytes of the app's stored media (each distinct file once): what the quota counts.
  Result<int64_t> app_media_bytes(AppId app);

  const Limits& limits() const { return options_.limits; }

 private:
  SessionStore(std::unique_ptr<Database> db, StoreOptions options);
  int64_t now_ms() const;
  // `result`, with a sqlite failure logged and replaced by a message without SQL text.
  template <typename T>
  Result<T> scrubbed(std::string_view what, Result<T> result) const;
  // The three below expect mutex_ held.
  Status remove_wal_copies();
  Result<Session> load_session(AppId app, std::string_view id);
  Result<std::vector<Message>> load_messages(std::string_view session_id);
  // Within append_turn's transaction: the blobs (quota checked) and their links.
  Status insert_media(AppId app, int64_t message_id, std::span<const NewMedia> media, int64_t now);

  std::mutex mutex_;
  std::unique_ptr<Database> db_;  // guarded by mutex_
  const StoreOptions options_;
};

}  // namespace gemmad::store
