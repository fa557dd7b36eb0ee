// Limits: sessions per app, message, title, options and app-name sizes, token counts.
#include <gtest/gtest.h>

#include "store/session_store.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

using testing::TempDir;

class StoreLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    StoreOptions options;
    options.limits.max_sessions_per_app = 3;
    options.limits.max_message_bytes = 64;
    options.limits.max_title_bytes = 8;
    options.limits.max_options_bytes = 16;
    options.limits.max_app_name_bytes = 10;
    ASSERT_OK_AND_ASSIGN(store_, SessionStore::open(dir_.file("gemmad.db"), options));
    ASSERT_OK_AND_ASSIGN(app_, store_->ensure_app(1000, "notes"));
  }

  static void expect_out_of_range(const Error& error, const std::string& limit_name,
                                  const std::string& value) {
    EXPECT_EQ(error.code, ErrorCode::kOutOfRange) << error.message;
    EXPECT_NE(error.message.find(limit_name), std::string::npos) << error.message;
    EXPECT_NE(error.message.find(value), std::string::npos) << error.message;
  }

  TempDir dir_;
  std::unique_ptr<SessionStore> store_;
  AppId app_;
};

TEST_F(StoreLimits, AnAppCannotCreateMoreThanMaxSessionsPerApp) {
  std::string first;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
    if (i == 0) first = s.id;
  }
  auto fourth = store_->create_session(app_, "", "", "");
  ASSERT_FALSE(fourth.ok());
  expect_out_of_range(fourth.error(), "max_sessions_per_app is 3", "has 3 sessions");
  EXPECT_NE(fourth.error().message.find("notes"), std::string::npos) << fourth.error().message;

  // The limit is per app: another app is unaffected, and deleting frees a place.
  ASSERT_OK_AND_ASSIGN(AppId other, store_->ensure_app(1000, "mail"));
  ASSERT_OK(store_->create_session(other, "", "", ""));
  ASSERT_OK(store_->delete_session(app_, first));
  ASSERT_OK(store_->create_session(app_, "", "", ""));
  ASSERT_OK_AND_ASSIGN(int64_t count, store_->count_sessions(app_));
  EXPECT_EQ(count, 3);
}

TEST_F(StoreLimits, MessagesUpToMaxMessageBytesAreStoredAndLongerOnesRefused) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  const std::string at_limit(64, 'a');
  const std::string over(65, 'b');
  ASSERT_OK(store_->append_turn(app_, s.id, {at_limit, 1, at_limit, 1}));

  auto user_over = store_->append_turn(app_, s.id, {over, 1, "ok", 1});
  ASSERT_FALSE(user_over.ok());
  expect_out_of_range(user_over.error(), "max_message_bytes (64)", "user message of 65 bytes");
  auto model_over = store_->append_turn(app_, s.id, {"ok", 1, over, 1});
  ASSERT_FALSE(model_over.ok());
  expect_out_of_range(model_over.error(), "max_message_bytes (64)", "model message of 65 bytes");

  ASSERT_OK_AND_ASSIGN(Session after, store_->get_session(app_, s.id));
  EXPECT_EQ(after.turns, 1);
  ASSERT_OK_AND_ASSIGN(auto messages, store_->messages(app_, s.id));
  EXPECT_EQ(messages.size(), 2u);
}

TEST_F(StoreLimits, SystemPromptCountsAsAMessage) {
  auto s = store_->create_session(app_, "", std::string(65, 's'), "");
  ASSERT_FALSE(s.ok());
  expect_out_of_range(s.error(), "max_message_bytes", "system prompt of 65 bytes");
}

TEST_F(StoreLimits, TitleOptionsAndAppNameHaveTheirOwnLimits) {
  auto title = store_->create_session(app_, "123456789", "", "");
  ASSERT_FALSE(title.ok());
  expect_out_of_range(title.error(), "max_title_bytes (8)", "title of 9 bytes");

  auto options = store_->create_session(app_, "", "", R"({"k":"0123456789"})");
  ASSERT_FALSE(options.ok());
  expect_out_of_range(options.error(), "max_options_bytes (16)", "options_json of 18 bytes");

  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "12345678", "", ""));
  Status retitle = store_->set_title(app_, s.id, "123456789");
  ASSERT_FALSE(retitle.ok());
  expect_out_of_range(retitle.error(), "max_title_bytes", "title of 9 bytes");

  auto app = store_->ensure_app(1000, "a-long-name");
  ASSERT_FALSE(app.ok());
  expect_out_of_range(app.error(), "max_app_name_bytes (10)", "app name of 11 bytes");
}

TEST_F(StoreLimits, NegativeTokenCountsAreRefused) {
  ASSERT_OK_AND_ASSIGN(Session s, store_->create_session(app_, "", "", ""));
  auto user = store_->append_turn(app_, s.id, {"a", -1, "b", 1});
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(user.error().message.find("user_tokens is -1"), std::string::npos);
  auto model = store_->append_turn(app_, s.id, {"a", 1, "b", -5});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("model_tokens is -5"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::store
