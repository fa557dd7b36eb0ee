// Stored media (migration 4): content-addressed per app, linked to the user message, counted
// in the app's quota, listed in order, read back for re-encoding, and removed with the last
// session that uses them (no orphan blob left).
#include <gtest/gtest.h>

#include "common/sha256.h"
#include "store/session_store.h"
#include "store/sqlite_db.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

class MediaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    StoreOptions options;
    options.limits.max_media_bytes_per_app = 1000;
    ASSERT_OK_AND_ASSIGN(store_, SessionStore::open(dir_.file("gemmad.db"), options));
    ASSERT_OK_AND_ASSIGN(app_, store_->ensure_app(1000, "notes"));
  }
  Result<Session> turn(const std::string& id, std::span<const NewMedia> media) {
    return store_->append_turn(app_, id,
                               {.user_text = "look",
                                .user_tokens = 1,
                                .model_text = "ok",
                                .model_tokens = 1,
                                .user_media = media});
  }
  int64_t blob_rows() {
    auto db = Database::open(dir_.file("gemmad.db"));
    EXPECT_TRUE(db.ok());
    auto n = (*db)->query_int64("SELECT COUNT(*) FROM media_blobs");
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : -1;
  }

  TempDir dir_;
  std::unique_ptr<SessionStore> store_;
  AppId app_;
};

const std::vector<uint8_t> kPng(300, 0x11), kWav(200, 0x22);

TEST_F(MediaStoreTest, StoresMediaWithTheUserMessageInOrder) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  const NewMedia media[] = {
      {.kind = MediaKind::kImage, .mime = "image/png", .data = kPng, .token_budget = 70},
      {.kind = MediaKind::kAudio, .mime = "audio/wav", .data = kWav, .text_offset = 4}};
  ASSERT_OK(turn(s.id, media));
  ASSERT_OK_AND_ASSIGN(auto listed, store_->session_media(app_, s.id));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].sha256, sha256_hex(kPng));
  EXPECT_EQ(listed[0].kind, MediaKind::kImage);
  EXPECT_EQ(listed[0].token_budget, 70u);
  EXPECT_EQ(listed[0].message_seq, 1);
  EXPECT_EQ(listed[1].kind, MediaKind::kAudio);
  EXPECT_EQ(listed[1].text_offset, 4u);
  EXPECT_EQ(listed[1].bytes, 200);
  ASSERT_OK_AND_ASSIGN(auto bytes, store_->media_data(app_, listed[0].sha256));
  EXPECT_EQ(bytes, kPng);
}

TEST_F(MediaStoreTest, SameFileIsStoredOnceAndCountedOnce) {
  ASSERT_OK_AND_ASSIGN(Session a, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(Session b, store_->create_session(app_, "", "", ""));
  const NewMedia one[] = {{.kind = MediaKind::kImage, .mime = "image/png", .data = kPng}};
  ASSERT_OK(turn(a.id, one));
  ASSERT_OK(turn(b.id, one));
  ASSERT_OK(turn(b.id, one));
  ASSERT_OK_AND_ASSIGN(int64_t used, store_->app_media_bytes(app_));
  EXPECT_EQ(used, 300);
  EXPECT_EQ(blob_rows(), 1);
}

TEST_F(MediaStoreTest, QuotaRefusesTheWholeTurnNamingTheLimit) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  const std::vector<uint8_t> big(800, 0x33);
  const NewMedia media[] = {{.kind = MediaKind::kImage, .mime = "image/png", .data = kPng},
                            {.kind = MediaKind::kImage, .mime = "image/png", .data = big}};
  auto r = turn(s.id, media);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(r.error().message.find("1100 bytes; the quota is 1000 (media.max_bytes_per_app)"),
            std::string::npos)
      << r.error().message;
  ASSERT_OK_AND_ASSIGN(auto msgs, store_->messages(app_, s.id));
  EXPECT_TRUE(msgs.empty());  // nothing of the turn was stored
  EXPECT_EQ(blob_rows(), 0);
}

TEST_F(MediaStoreTest, DeletingTheLastSessionUsingAFileRemovesIt) {
  ASSERT_OK_AND_ASSIGN(Session a, store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(Session b, store_->create_session(app_, "", "", ""));
  const NewMedia shared[] = {{.kind = MediaKind::kImage, .mime = "image/png", .data = kPng}};
  const NewMedia own[] = {{.kind = MediaKind::kAudio, .mime = "audio/wav", .data = kWav}};
  ASSERT_OK(turn(a.id, shared));
  ASSERT_OK(turn(b.id, shared));
  ASSERT_OK(turn(b.id, own));
  ASSERT_OK(store_->delete_session(app_, b.id));
  EXPECT_EQ(blob_rows(), 1);  // the shared image stays for session a
  ASSERT_OK(store_->media_data(app_, sha256_hex(kPng)));
  EXPECT_FALSE(store_->media_data(app_, sha256_hex(kWav)).ok());
  ASSERT_OK(store_->delete_session(app_, a.id));
  EXPECT_EQ(blob_rows(), 0);
}

TEST_F(MediaStoreTest, AnotherAppCannotReadTheFile) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  const NewMedia one[] = {{.kind = MediaKind::kImage, .mime = "image/png", .data = kPng}};
  ASSERT_OK(turn(s.id, one));
  ASSERT_OK_AND_ASSIGN(AppId other, store_->ensure_app(1001, "notes"));
  auto r = store_->media_data(other, sha256_hex(kPng));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace gemmad::store
