// Tool calls and results (migration 3): a model message's calls and the tool results of the
// next turn are stored, read back in order with their names, and survive reopening the file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/session_json.h"
#include "store/session_store.h"
#include "test_util.h"

namespace gemmad::store {
namespace {

TEST(ToolMessages, CallsAndResultsSurviveReopening) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("gemmad.db");
  const std::string calls =
      R"([{"id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"}])";
  std::string id;
  {
    ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path));
    ASSERT_OK_AND_ASSIGN(AppId app, store->ensure_app(1000, "notes"));
    ASSERT_OK_AND_ASSIGN(Session s, store->create_session(app, "t", "", "{}"));
    id = s.id;
    NewTurn first;
    first.user_text = "Weather in Paris?";
    first.model_text = "Checking.";
    first.model_tool_calls_json = calls;
    ASSERT_OK(store->append_turn(app, id, first));
    NewTurn second;
    second.tool_results = {{"get_weather", "call_1", R"({"temp":15})", 5}};
    second.model_text = "15 degrees.";
    ASSERT_OK(store->append_turn(app, id, second));
  }
  ASSERT_OK_AND_ASSIGN(auto store, SessionStore::open(path));
  ASSERT_OK_AND_ASSIGN(AppId app, store->ensure_app(1000, "notes"));
  ASSERT_OK_AND_ASSIGN(std::vector<Message> m, store->messages(app, id));
  ASSERT_EQ(m.size(), 4u);  // user, model (calls), tool, model: no empty user message
  EXPECT_EQ(m[0].role, Role::kUser);
  EXPECT_EQ(m[1].role, Role::kModel);
  EXPECT_EQ(m[1].tool_calls_json, calls);
  EXPECT_EQ(m[2].role, Role::kTool);
  EXPECT_EQ(m[2].tool_name, "get_weather");
  EXPECT_EQ(m[2].tool_call_id, "call_1");
  EXPECT_EQ(m[2].text, R"({"temp":15})");
  EXPECT_EQ(m[2].tokens, 5);
  EXPECT_EQ(m[3].role, Role::kModel);
  EXPECT_EQ(m[3].tool_calls_json, "");
  ASSERT_OK_AND_ASSIGN(SessionExport e, store->export_session(app, id));
  const auto doc = nlohmann::json::parse(session_export_to_json(e, -1));
  EXPECT_EQ(doc["messages"][1]["tool_calls"][0]["name"], "get_weather");
  EXPECT_EQ(doc["messages"][2]["role"], "tool");
  EXPECT_EQ(doc["messages"][2]["tool_name"], "get_weather");
}

}  // namespace
}  // namespace gemmad::store
