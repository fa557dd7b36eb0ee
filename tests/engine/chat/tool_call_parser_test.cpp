// The strict tool-call parser: Gemma 4's syntax to JSON, and errors that say where.
#include "chat/tool_call_parser.h"

#include <gtest/gtest.h>

#include "chat/tool_syntax.h"
#include "nlohmann/json.hpp"

namespace gemmad::chat {
namespace {

TEST(ToolCallParser, ParsesNameAndArguments) {
  auto c = parse_tool_call(
      R"(call:get_weather{city:<|"|>Paris, "FR"<|"|>,days:3,ratio:-0.5e2,ok:true,x:null,)"
      R"(tags:[<|"|>a<|"|>,1,[]],nested:{deep:{}}})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->name, "get_weather");
  EXPECT_EQ(nlohmann::json::parse(c->arguments_json),
            nlohmann::json::parse(R"({"city":"Paris, \"FR\"","days":3,"ratio":-50.0,"ok":true,)"
                                  R"("x":null,"tags":["a",1,[]],"nested":{"deep":{}}})"));
}

TEST(ToolCallParser, AllowsSpaceBetweenTokensAndEmptyArguments) {
  auto c = parse_tool_call(" call:ping{ }\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->arguments_json, "{}");
  c = parse_tool_call("call:f{ a : 1 , b : [ 2 ] }");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->arguments_json, R"({"a":1,"b":[2]})");
}

TEST(ToolCallParser, RoundTripsTheRenderer) {
  const auto v = nlohmann::json::parse(R"({"q":"x,y:{z}","n":[1.25,false,{"k":"<v>"}]})");
  auto c = parse_tool_call("call:search" + gemma_value_text(v));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(nlohmann::json::parse(c->arguments_json), v);
}

TEST(ToolCallParser, RejectsMalformedCalls) {
  const char* bad[] = {
      "",                   // nothing
      "get_weather{}",      // no call:
      "call:{}",            // no name
      "call:f",             // no arguments
      "call:f[1]",          // arguments not an object
      "call:f{a:1",         // unclosed
      "call:f{a:1}}",       // text after
      "call:f{\"a\":1}",    // JSON-quoted key
      "call:f{a:\"x\"}",    // JSON string instead of <|"|>
      "call:f{a:<|\"|>x}",  // unclosed string
      "call:f{a:01}",       // leading zero
      "call:f{a:1.}",       // no fraction digits
      "call:f{a:1,a:2}",    // duplicate key
      "call:f{a:1,}",       // trailing comma
      "call:f{a:tru}",      // bad literal
  };
  for (const char* t : bad) {
    auto c = parse_tool_call(t);
    EXPECT_FALSE(c.ok()) << "accepted: " << t;
    if (!c.ok()) {
      EXPECT_NE(c.error().message.find("byte"), std::string::npos) << t;
    }
  }
}

TEST(ToolCallParser, BoundsNesting) {
  std::string deep = "call:f{a:";
  for (int i = 0; i < 100; ++i)
    deep += "[";
  auto c = parse_tool_call(deep);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("nesting deeper than 64"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::chat
