// Isolation (docs/DESIGN.md "Privacy rules"): an app never sees, changes or learns of another app's
// session, whether the other app shares its uid or its name.
#include <gtest/gtest.h>

#include "store/session_store.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

class AppIsolation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_OK_AND_ASSIGN(store_, SessionStore::open(dir_.file("gemmad.db")));
    ASSERT_OK_AND_ASSIGN(owner_, store_->ensure_app(1000, "notes"));
    ASSERT_OK_AND_ASSIGN(same_uid_, store_->ensure_app(1000, "mail"));
    ASSERT_OK_AND_ASSIGN(same_name_, store_->ensure_app(1001, "notes"));
    ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(owner_, "private", "secret", ""));
    id_ = s.id;
    ASSERT_OK(store_->append_turn(owner_, id_, {"my diary", 2, "noted", 1}));
  }

  // What the owner sees must be exactly what it wrote, whatever the others tried.
  void expect_owner_session_intact() {
    ASSERT_OK_AND_ASSIGN(Session s, store_->get_session(owner_, id_));
    EXPECT_EQ(s.title, "private");
    EXPECT_EQ(s.turns, 1);
    ASSERT_OK_AND_ASSIGN(auto messages, store_->messages(owner_, id_));
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].text, "my diary");
  }

  TempDir dir_;
  std::unique_ptr<SessionStore> store_;
  AppId owner_, same_uid_, same_name_;
  std::string id_;
};

TEST_F(AppIsolation, OtherAppsCannotReadTheSession) {
  for (AppId other : {same_uid_, same_name_}) {
    auto got = store_->get_session(other, id_);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, ErrorCode::kNotFound);
    auto messages = store_->messages(other, id_);
    ASSERT_FALSE(messages.ok());
    EXPECT_EQ(messages.error().code, ErrorCode::kNotFound);
    auto exported = store_->export_session(other, id_);
    ASSERT_FALSE(exported.ok());
    EXPECT_EQ(exported.error().code, ErrorCode::kNotFound);
  }
}

TEST_F(AppIsolation, OtherAppsDoNotListOrCountTheSession) {
  for (AppId other : {same_uid_, same_name_}) {
    ASSERT_OK_AND_ASSIGN(auto listed, store_->list_sessions(other, 100));
    EXPECT_TRUE(listed.empty());
    ASSERT_OK_AND_ASSIGN(int64_t count, store_->count_sessions(other));
    EXPECT_EQ(count, 0);
  }
  ASSERT_OK_AND_ASSIGN(auto mine, store_->list_sessions(owner_, 100));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].id, id_);
}

TEST_F(AppIsolation, OtherAppsCannotChangeOrDeleteTheSession) {
  for (AppId other : {same_uid_, same_name_}) {
    auto appended = store_->append_turn(other, id_, {"injected", 1, "x", 1});
    ASSERT_FALSE(appended.ok());
    EXPECT_EQ(appended.error().code, ErrorCode::kNotFound);
    Status renamed = store_->set_title(other, id_, "pwned");
    ASSERT_FALSE(renamed.ok());
    EXPECT_EQ(renamed.error().code, ErrorCode::kNotFound);
    Status deleted = store_->delete_session(other, id_);
    ASSERT_FALSE(deleted.ok());
    EXPECT_EQ(deleted.error().code, ErrorCode::kNotFound);
  }
  expect_owner_session_intact();
}

TEST_F(AppIsolation, AnotherAppsSessionIsIndistinguishableFromAMissingOne) {
  const std::string missing = "0123456789abcdef0123456789abcdef";
  ASSERT_NE(missing, id_);
  auto foreign = store_->get_session(same_uid_, id_);
  auto absent = store_->get_session(same_uid_, missing);
  ASSERT_FALSE(foreign.ok());
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(foreign.error().code, absent.error().code);
  // Same wording with the id swapped: no hint that one of them exists.
  std::string normalised = foreign.error().message;
  normalised.replace(normalised.find(id_), id_.size(), missing);
  EXPECT_EQ(normalised, absent.error().message);
}

TEST_F(AppIsolation, AnUnknownAppIdSeesNothingAndCannotCreate) {
  const AppId unknown{987654};
  ASSERT_OK_AND_ASSIGN(auto listed, store_->list_sessions(unknown, 100));
  EXPECT_TRUE(listed.empty());
  auto created = store_->create_session(unknown, "", "", "");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->get_session(unknown, id_).ok());
}

}  // namespace
}  // namespace gemmad::store
