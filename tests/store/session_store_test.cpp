// SessionStore basics: apps, sessions, turns, ordering, titles, deletion, export, file mode.
#include "store/session_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "store/session_id.h"
#include "store/session_json.h"
#include "store/sqlite_db.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    StoreOptions options;
    options.now_ms = [clock = clock_] { return clock->load(); };
    ASSERT_OK_AND_ASSIGN(store_, SessionStore::open(path(), options));
    ASSERT_OK_AND_ASSIGN(app_, store_->ensure_app(1000, "notes"));
  }
  std::string path() const { return dir_.file("gemmad.db"); }
  void set_time(int64_t ms) { clock_->store(ms); }

  TempDir dir_;
  std::shared_ptr<std::atomic<int64_t>> clock_ = std::make_shared<std::atomic<int64_t>>(1000);
  std::unique_ptr<SessionStore> store_;
  AppId app_;
};

TEST_F(SessionStoreTest, EnsureAppReturnsTheSameIdForTheSameUidAndName) {
  ASSERT_OK_AND_ASSIGN(AppId again, store_->ensure_app(1000, "notes"));
  EXPECT_EQ(again, app_);
  ASSERT_OK_AND_ASSIGN(AppId other_name, store_->ensure_app(1000, "mail"));
  ASSERT_OK_AND_ASSIGN(AppId other_uid, store_->ensure_app(1001, "notes"));
  EXPECT_NE(other_name, app_);
  EXPECT_NE(other_uid, app_);
  EXPECT_NE(other_uid, other_name);
}

TEST_F(SessionStoreTest, EnsureAppRefusesAnEmptyName) {
  auto app = store_->ensure_app(1000, "");
  ASSERT_FALSE(app.ok());
  EXPECT_EQ(app.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SessionStoreTest, CreatedSessionReadsBackWithAllItsFields) {
  set_time(1234);
  ASSERT_OK_AND_ASSIGN(Session created,
                       store_->create_session(app_, "Trip", "Be brief.", R"({"think":true})"));
  EXPECT_TRUE(is_valid_session_id(created.id)) << created.id;
  ASSERT_OK_AND_ASSIGN(Session got, store_->get_session(app_, created.id));
  EXPECT_EQ(got.id, created.id);
  EXPECT_EQ(got.app, app_);
  EXPECT_EQ(got.title, "Trip");
  EXPECT_EQ(got.system_prompt, "Be brief.");
  EXPECT_EQ(got.options_json, R"({"think":true})");
  EXPECT_EQ(got.created_ms, 1234);
  EXPECT_EQ(got.updated_ms, 1234);
  EXPECT_EQ(got.turns, 0);
  ASSERT_OK_AND_ASSIGN(auto messages, store_->messages(app_, created.id));
  EXPECT_TRUE(messages.empty());
}

TEST_F(SessionStoreTest, SessionIdsAreDistinct) {
  ASSERT_OK_AND_ASSIGN(Session a, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(Session b, store_->create_session(app_, "", "", ""));
  EXPECT_NE(a.id, b.id);
}

TEST_F(SessionStoreTest, EmptyOptionsAreStoredAsAnEmptyObject) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  EXPECT_EQ(s.options_json, "{}");
}

TEST_F(SessionStoreTest, OptionsThatAreNotAJsonObjectAreRefused) {
  for (const char* bad : {"[1,2]", "{\"a\":", "3", "not json"}) {
    auto s = store_->create_session(app_, "", "", bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(s.error().message.find("options_json"), std::string::npos);
  }
  ASSERT_OK_AND_ASSIGN(int64_t count, store_->count_sessions(app_));
  EXPECT_EQ(count, 0);
}

TEST_F(SessionStoreTest, AppendTurnStoresUserThenModelMessagesAndBumpsTheSession) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  set_time(2000);
  ASSERT_OK_AND_ASSIGN(Session after1, store_->append_turn(app_, s.id, {"hi", 1, "hello", 2}));
  EXPECT_EQ(after1.turns, 1);
  EXPECT_EQ(after1.updated_ms, 2000);
  set_time(3000);
  ASSERT_OK_AND_ASSIGN(
      Session after2,
      store_->append_turn(app_, s.id, {"more", 3, "cut", 4, MessageStatus::kInterrupted}));
  EXPECT_EQ(after2.turns, 2);

  ASSERT_OK_AND_ASSIGN(Session stored, store_->get_session(app_, s.id));
  EXPECT_EQ(stored.turns, 2);
  EXPECT_EQ(stored.updated_ms, 3000);
  EXPECT_EQ(stored.created_ms, 1000);

  ASSERT_OK_AND_ASSIGN(auto messages, store_->messages(app_, s.id));
  ASSERT_EQ(messages.size(), 4u);
  const struct {
    Role role;
    const char* text;
    int64_t tokens;
    int64_t created;
    MessageStatus status;
  } expected[] = {
      {Role::kUser, "hi", 1, 2000, MessageStatus::kComplete},
      {Role::kModel, "hello", 2, 2000, MessageStatus::kComplete},
      {Role::kUser, "more", 3, 3000, MessageStatus::kComplete},
      {Role::kModel, "cut", 4, 3000, MessageStatus::kInterrupted},
  };
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(messages[i].seq, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(messages[i].role, expected[i].role);
    EXPECT_EQ(messages[i].text, expected[i].text);
    EXPECT_EQ(messages[i].tokens, expected[i].tokens);
    EXPECT_EQ(messages[i].created_ms, expected[i].created);
    EXPECT_EQ(messages[i].status, expected[i].status);
  }
}

TEST_F(SessionStoreTest, UpdatedNeverGoesBackWhenTheClockDoes) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  set_time(5000);
  ASSERT_OK(store_->append_turn(app_, s.id, {"a", 1, "b", 1}));
  set_time(4000);
  ASSERT_OK_AND_ASSIGN(Session after, store_->append_turn(app_, s.id, {"c", 1, "d", 1}));
  EXPECT_EQ(after.updated_ms, 5000);
  ASSERT_OK_AND_ASSIGN(Session stored, store_->get_session(app_, s.id));
  EXPECT_EQ(stored.updated_ms, 5000);
}

TEST_F(SessionStoreTest, ListShowsTheMostRecentlyUpdatedFirstUpToTheLimit) {
  set_time(100);
  ASSERT_OK_AND_ASSIGN(Session a, store_->create_session(app_, "a", "", ""));
  set_time(200);
  ASSERT_OK_AND_ASSIGN(Session b, store_->create_session(app_, "b", "", ""));
  set_time(300);
  ASSERT_OK_AND_ASSIGN(Session c, store_->create_session(app_, "c", "", ""));
  set_time(400);
  ASSERT_OK(store_->append_turn(app_, a.id, {"q", 1, "r", 1}));  // a is now the newest

  ASSERT_OK_AND_ASSIGN(auto all, store_->list_sessions(app_, 10));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, a.id);
  EXPECT_EQ(all[0].turns, 1);
  EXPECT_EQ(all[1].id, c.id);
  EXPECT_EQ(all[2].id, b.id);
  EXPECT_EQ(all[2].turns, 0);

  ASSERT_OK_AND_ASSIGN(auto two, store_->list_sessions(app_, 2));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].id, c.id);
  ASSERT_OK_AND_ASSIGN(int64_t count, store_->count_sessions(app_));
  EXPECT_EQ(count, 3);
}

TEST_F(SessionStoreTest, SessionsUpdatedInTheSameMillisecondListNewestCreatedFirst) {
  ASSERT_OK_AND_ASSIGN(Session first, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(Session second, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(auto all, store_->list_sessions(app_, 10));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, second.id);
  EXPECT_EQ(all[1].id, first.id);
}

TEST_F(SessionStoreTest, ListAllSessionsShowsEveryAppWithItsOwner) {
  ASSERT_OK_AND_ASSIGN(AppId other, store_->ensure_app(1001, "mail"));
  set_time(100);
  ASSERT_OK_AND_ASSIGN(Session mine, store_->create_session(app_, "mine", "", ""));
  set_time(200);
  ASSERT_OK_AND_ASSIGN(Session theirs, store_->create_session(other, "theirs", "", ""));
  ASSERT_OK_AND_ASSIGN(auto all, store_->list_all_sessions(10));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].session.id, theirs.id);
  EXPECT_EQ(all[0].uid, 1001u);
  EXPECT_EQ(all[0].app_name, "mail");
  EXPECT_EQ(all[1].session.id, mine.id);
  EXPECT_EQ(all[1].uid, 1000u);
  EXPECT_EQ(all[1].app_name, "notes");
}

TEST_F(SessionStoreTest, SetTitleRenamesWithoutChangingUpdated) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "old", "", ""));
  set_time(9000);
  ASSERT_OK(store_->set_title(app_, s.id, "new"));
  ASSERT_OK_AND_ASSIGN(Session got, store_->get_session(app_, s.id));
  EXPECT_EQ(got.title, "new");
  EXPECT_EQ(got.updated_ms, s.updated_ms);
}

TEST_F(SessionStoreTest, DeleteRemovesTheSessionAndItsMessages) {
  ASSERT_OK_AND_ASSIGN(Session gone, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(Session kept, store_->create_session(app_, "", "", ""));
  ASSERT_OK(store_->append_turn(app_, gone.id, {"a", 1, "b", 1}));
  ASSERT_OK(store_->append_turn(app_, kept.id, {"c", 1, "d", 1}));
  ASSERT_OK(store_->delete_session(app_, gone.id));

  auto got = store_->get_session(app_, gone.id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
  Status again = store_->delete_session(app_, gone.id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

  // The cascade, seen from a second connection: no message of the deleted session is left.
  ASSERT_OK_AND_ASSIGN(auto raw, Database::open(path()));
  ASSERT_OK_AND_ASSIGN(
      int64_t orphans,
      raw->query_int64("SELECT COUNT(*) FROM messages WHERE session_id = '" + gone.id + "'"));
  EXPECT_EQ(orphans, 0);
  ASSERT_OK_AND_ASSIGN(int64_t others, raw->query_int64("SELECT COUNT(*) FROM messages"));
  EXPECT_EQ(others, 2);
}

TEST_F(SessionStoreTest, MalformedSessionIdsAreInvalidArguments) {
  for (const char* bad :
       {"", "abc", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde'",
        "0123456789abcdef0123456789abcdef0"}) {
    auto got = store_->get_session(app_, bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST_F(SessionStoreTest, UnicodeAndEmbeddedNulTextRoundTrips) {
  const std::string texts[] = {
      "Grüße, café, naïve",                                         // Latin-1 range, 2-byte UTF-8
      "日本語のテキスト、中文，한국어",                             // CJK, 3-byte
      "emoji 👩‍👩‍👧 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  // 4-byte, ZWJ sequence
      "مرحبا بالعالم שלום",                                         // right-to-left
      "e\xcc\x81 combining; \xef\xbb\xbf BOM",  // combining mark, BOM in the middle
      std::string("nul\0inside", 10),
  };
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, texts[2], texts[3], ""));
  for (const std::string& text : texts) {
    ASSERT_OK(store_->append_turn(app_, s.id, {text, 1, text + "!", 1}));
  }
  store_.reset();  // read back through a fresh connection, not a cache
  ASSERT_OK_AND_ASSIGN(store_, SessionStore::open(path()));
  ASSERT_OK_AND_ASSIGN(Session got, store_->get_session(app_, s.id));
  EXPECT_EQ(got.title, texts[2]);
  EXPECT_EQ(got.system_prompt, texts[3]);
  ASSERT_OK_AND_ASSIGN(auto messages, store_->messages(app_, s.id));
  ASSERT_EQ(messages.size(), 2 * std::size(texts));
  for (size_t i = 0; i < std::size(texts); ++i) {
    EXPECT_EQ(messages[2 * i].text, texts[i]);
    EXPECT_EQ(messages[2 * i + 1].text, texts[i] + "!");
  }
}

TEST_F(SessionStoreTest, ExportHoldsTheSessionAndEveryMessageAsJson) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "Trip ✈", "Be brief.",
                                                         R"({"think":false,"temp":0.5})"));
  set_time(7000);
  ASSERT_OK(store_->append_turn(app_, s.id, {"Où?", 3, "Paris 🗼", 4}));
  ASSERT_OK(store_->append_turn(app_, s.id, {"Why", 2, "Beca", 1, MessageStatus::kInterrupted}));
  ASSERT_OK_AND_ASSIGN(SessionExport exported, store_->export_session(app_, s.id));
  EXPECT_EQ(exported.session.turns, 2);
  ASSERT_EQ(exported.messages.size(), 4u);

  const auto doc = nlohmann::json::parse(session_export_to_json(exported));
  EXPECT_EQ(doc["id"], s.id);
  EXPECT_EQ(doc["title"], "Trip ✈");
  EXPECT_EQ(doc["system_prompt"], "Be brief.");
  EXPECT_EQ(doc["options"]["think"], false);
  EXPECT_EQ(doc["options"]["temp"], 0.5);
  EXPECT_EQ(doc["created"], 1000);
  EXPECT_EQ(doc["updated"], 7000);
  EXPECT_EQ(doc["turns"], 2);
  ASSERT_EQ(doc["messages"].size(), 4u);
  EXPECT_EQ(doc["messages"][0]["role"], "user");
  EXPECT_EQ(doc["messages"][0]["text"], "Où?");
  EXPECT_EQ(doc["messages"][0]["tokens"], 3);
  EXPECT_EQ(doc["messages"][1]["role"], "model");
  EXPECT_EQ(doc["messages"][1]["text"], "Paris 🗼");
  EXPECT_EQ(doc["messages"][1]["created"], 7000);
  EXPECT_EQ(doc["messages"][1]["status"], "complete");
  EXPECT_EQ(doc["messages"][3]["status"], "interrupted");
  EXPECT_EQ(doc["messages"][3]["seq"], 4);
}

TEST_F(SessionStoreTest, ExportOfTextCutMidCharacterReplacesTheBrokenBytes) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  const std::string cut = std::string("caf") + "\xc3";  // "café" cut inside the é
  ASSERT_OK(store_->append_turn(app_, s.id, {"q", 1, cut, 1, MessageStatus::kInterrupted}));
  ASSERT_OK_AND_ASSIGN(SessionExport exported, store_->export_session(app_, s.id));
  EXPECT_EQ(exported.messages[1].text, cut);  // stored as given
  const auto doc = nlohmann::json::parse(session_export_to_json(exported));
  EXPECT_EQ(doc["messages"][1]["text"], "caf\xef\xbf\xbd");  // U+FFFD
}

TEST(SessionStoreFile, IsCreatedReadableOnlyByItsOwner) {
  TempDir dir;
  const mode_t old_mask = ::umask(022);
  auto store = SessionStore::open(dir.file("gemmad.db"));
  ::umask(old_mask);
  ASSERT_OK(store);
  for (const char* name : {"gemmad.db", "gemmad.db-wal"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir.file(name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
}

TEST(SessionStoreFile, RunsInWalMode) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(dir.file("gemmad.db")));
  ASSERT_OK_AND_ASSIGN(auto raw, Database::open(dir.file("gemmad.db")));
  ASSERT_OK_AND_ASSIGN(std::string mode, raw->query_text("PRAGMA journal_mode"));
  EXPECT_EQ(mode, "wal");  // persistent in the file: set by the store, read by a new connection
}

TEST(SessionStoreFile, AFileThatIsNotADatabaseIsAnIoError) {
  TempDir dir;
  const std::string path = dir.file("junk.db");
  std::ofstream(path) << std::string(4096, 'x');
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;
}

TEST(SessionStoreFile, AMissingDirectoryIsAnIoErrorNamingThePath) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/gemmad.db");
  auto store = SessionStore::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace gemmad::store
