// The JSON Schema subset compiler, run over strings byte by byte: every keyword, both
// dialects, the tool-call grammar, and every error.
#include <gtest/gtest.h>

#include "byte_vocab.h"

namespace gemmad::constrain {
namespace {

using testing::Outcome;
using testing::run;
using testing::valid;

std::shared_ptr<const Grammar> json(std::string_view schema) {
  auto g = compile_json_schema(schema, Dialect::kJson);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? g.value() : any_json_value(Dialect::kJson);
}

std::shared_ptr<const Grammar> gemma(std::string_view schema) {
  auto g = compile_json_schema(schema, Dialect::kGemmaArgs);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? g.value() : any_json_value(Dialect::kGemmaArgs);
}

std::string error_of(std::string_view schema, Dialect d = Dialect::kJson) {
  auto g = compile_json_schema(schema, d);
  return g.ok() ? "" : g.error().message;
}

TEST(ASchemaObject, KeepsPropertyOrderAndRequiresRequired) {
  auto g = json(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
                   "required":["a"]})");
  EXPECT_EQ(run(g, R"({"a":1,"b":"x"})"), Outcome::kMustEnd);
  EXPECT_EQ(run(g, R"({"a": 1, "b": "x"})"), Outcome::kMustEnd);
  EXPECT_EQ(run(g, R"({"a":12})"), Outcome::kMustEnd);
  EXPECT_FALSE(valid(g, R"({"b":"x"})"));
  EXPECT_FALSE(valid(g, R"({"b":"x","a":1})"));
  EXPECT_FALSE(valid(g, R"({"a":1,"c":2})"));
  EXPECT_FALSE(valid(g, R"({})"));
  EXPECT_EQ(run(g, R"({"a":1,"b":"x)"), Outcome::kPrefix);
}

TEST(ASchemaObject, WithOnlyOptionalPropertiesMayBeEmpty) {
  auto g = json(R"({"properties":{"a":{"type":"null"},"b":{"type":"boolean"}}})");
  EXPECT_TRUE(valid(g, "{}"));
  EXPECT_TRUE(valid(g, R"({"b":true})"));
  EXPECT_TRUE(valid(g, R"({"a":null,"b":false})"));
  EXPECT_FALSE(valid(g, R"({,"b":true})"));
  EXPECT_FALSE(valid(g, R"({"a":null,})"));
}

TEST(ASchemaObject, AdditionalPropertiesFalseTrueAndSchema) {
  auto closed = json(R"({"type":"object","properties":{"a":{}},"additionalProperties":false})");
  EXPECT_TRUE(valid(closed, R"({"a":[1,{"x":null}]})"));
  EXPECT_FALSE(valid(closed, R"({"z":1})"));
  auto open = json(R"({"type":"object","properties":{"a":{}},"additionalProperties":true})");
  EXPECT_FALSE(valid(open, R"({"z":1})"));  // documented: only the listed properties
  auto empty = json(R"({"type":"object","additionalProperties":false})");
  EXPECT_TRUE(valid(empty, "{}"));
  EXPECT_FALSE(valid(empty, R"({"z":1})"));
  auto map = json(R"({"type":"object","additionalProperties":{"type":"integer"}})");
  EXPECT_TRUE(valid(map, R"({"x":1,"y":-2})"));
  EXPECT_FALSE(valid(map, R"({"x":"1"})"));
  auto any = json(R"({"type":"object"})");
  EXPECT_TRUE(valid(any, R"({"k":{"n":[true,null,"s",1.5e3]}})"));
  EXPECT_FALSE(valid(any, "[]"));
}

TEST(ASchemaScalar, NumbersIntegersBooleansNull) {
  auto n = json(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "12", "1.5", "-3.25e+10", "7E2"})
    EXPECT_TRUE(valid(n, ok)) << ok;
  for (const char* bad : {"01", "+1", "1.", ".5", "1e", "--1", "1x"})
    EXPECT_FALSE(valid(n, bad)) << bad;
  EXPECT_EQ(run(n, "12"), Outcome::kComplete);  // more digits may follow
  EXPECT_FALSE(valid(n, "12345678901234567"));  // 17 integer digits: past the bound
  auto i = json(R"({"type":"integer"})");
  EXPECT_TRUE(valid(i, "-42"));
  EXPECT_FALSE(valid(i, "4.2"));
  EXPECT_FALSE(valid(i, "4e2"));
  auto b = json(R"({"type":"boolean"})");
  EXPECT_EQ(run(b, "true"), Outcome::kMustEnd);
  EXPECT_FALSE(valid(b, "tru"));
  EXPECT_EQ(run(json(R"({"type":"null"})"), "null"), Outcome::kMustEnd);
}

TEST(ASchemaType, ListIsAnyOfTheTypes) {
  auto g = json(R"({"type":["string","null"]})");
  EXPECT_TRUE(valid(g, "null"));
  EXPECT_TRUE(valid(g, R"("x")"));
  EXPECT_FALSE(valid(g, "1"));
}

TEST(ASchemaString, EscapesUtf8AndLengths) {
  auto s = json(R"({"type":"string"})");
  EXPECT_TRUE(valid(s, R"("a\"b\\c\n\u00e9")"));
  EXPECT_TRUE(valid(s, "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\""));
  EXPECT_FALSE(valid(s, "\"\xc3\""));      // truncated UTF-8
  EXPECT_FALSE(valid(s, "\"\xc0\xaf\""));  // overlong
  EXPECT_FALSE(valid(s, "\"a\nb\""));      // raw control character
  EXPECT_FALSE(valid(s, R"("\x")"));
  auto len = json(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_FALSE(valid(len, R"("a")"));
  EXPECT_TRUE(valid(len, R"("ab")"));
  EXPECT_TRUE(valid(len, "\"a\xc3\xa9\\n\""));  // three characters
  EXPECT_FALSE(valid(len, R"("abcd")"));
  auto min = json(R"({"type":"string","minLength":1})");
  EXPECT_FALSE(valid(min, R"("")"));
  EXPECT_TRUE(valid(min, R"("abcdefgh")"));
}

TEST(ASchemaEnum, AndConstAreLiterals) {
  auto e = json(R"({"enum":["red","green",3,null,{"a":[1]}]})");
  for (const char* ok : {R"("red")", R"("green")", "3", "null", R"({"a":[1]})"})
    EXPECT_TRUE(valid(e, ok)) << ok;
  EXPECT_FALSE(valid(e, R"("blue")"));
  EXPECT_FALSE(valid(e, "30"));
  auto c = json(R"({"type":"string","const":"on"})");
  EXPECT_EQ(run(c, R"("on")"), Outcome::kMustEnd);
  EXPECT_FALSE(valid(c, R"("off")"));
}

TEST(ASchemaArray, ItemsAndCounts) {
  auto a = json(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})");
  EXPECT_FALSE(valid(a, "[]"));
  EXPECT_TRUE(valid(a, "[1]"));
  EXPECT_TRUE(valid(a, "[1, 2,3]"));
  EXPECT_FALSE(valid(a, "[1,2,3,4]"));
  EXPECT_FALSE(valid(a, "[\"x\"]"));
  auto any = json(R"({"type":"array"})");
  EXPECT_TRUE(valid(any, "[]"));
  EXPECT_TRUE(valid(any, R"([1,"a",[],{}])"));
  auto at_least = json(R"({"type":"array","items":{"type":"null"},"minItems":2})");
  EXPECT_FALSE(valid(at_least, "[null]"));
  EXPECT_TRUE(valid(at_least, "[null,null,null,null]"));
}

TEST(ASchemaAnyOf, AndOneOfAreAlternatives) {
  for (const char* kw : {"anyOf", "oneOf"}) {
    auto g = json(std::string(R"({")") + kw +
                  R"(":[{"type":"integer"},{"type":"object","properties":{"x":{"type":"string"}},
                  "required":["x"]}]})");
    EXPECT_TRUE(valid(g, "5"));
    EXPECT_TRUE(valid(g, R"({"x":"y"})"));
    EXPECT_FALSE(valid(g, R"({"y":"x"})"));
  }
}

TEST(ASchemaRef, ResolvesDefsDefinitionsAndRecursion) {
  auto g = json(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
      "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
      "$ref":"#/$defs/node"})");
  EXPECT_TRUE(valid(g, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]})"));
  EXPECT_FALSE(valid(g, R"({"v":1,"kids":[{"kids":[]}]})"));
  auto d = json(R"({"definitions":{"b":{"type":"boolean"}},"type":"array",
                    "items":{"$ref":"#/definitions/b"}})");
  EXPECT_TRUE(valid(d, "[true,false]"));
}

TEST(ASchemaAny, TrueAndEmptyAcceptEveryValue) {
  for (const char* s : {"true", "{}", R"({"title":"x","description":"y"})"}) {
    auto g = json(s);
    EXPECT_TRUE(valid(g, R"({"a":[1,2.5,"s",null,true,{}]})")) << s;
    EXPECT_TRUE(valid(g, "-7")) << s;
  }
}

TEST(ASchemaError, NamesTheKeywordAndPointer) {
  EXPECT_EQ(error_of(R"({"type":"object","properties":{"d":{"type":"string","format":"date"}}})"),
            "schema: keyword 'format' is not supported at /properties/d");
  EXPECT_EQ(error_of(R"({"minimum":3})"), "schema: keyword 'minimum' is not supported at /");
  EXPECT_EQ(error_of("{"), "schema: not valid JSON");
  EXPECT_EQ(error_of(R"({"type":"float"})"),
            "schema: 'type' \"float\" is not one of object, array, string, number, integer, "
            "boolean, null at /type");
  EXPECT_EQ(error_of(R"({"type":[]})"), "schema: 'type' is an empty list at /type");
  EXPECT_EQ(error_of("false"), "schema: schema false (matches nothing) is not supported at /");
  EXPECT_EQ(error_of("3"), "schema: a schema must be an object or a boolean at /");
  EXPECT_EQ(error_of(R"({"properties":{"a":{}},"required":["b"]})"),
            "schema: required property 'b' is not in 'properties' at /required/0");
  EXPECT_EQ(error_of(R"({"required":"a"})"), "schema: 'required' must be an array at /required");
  EXPECT_EQ(error_of(R"({"properties":[]})"),
            "schema: 'properties' must be an object at /properties");
  EXPECT_EQ(error_of(R"({"maxItems":-1})"),
            "schema: 'maxItems' -1 must be an integer in 0..4096 at /maxItems");
  EXPECT_EQ(error_of(R"({"minLength":5,"maxLength":2})"),
            "schema: 'minLength' 5 is above 'maxLength' 2 at /");
  EXPECT_EQ(error_of(R"({"items":[{}]})"),
            "schema: 'items' as an array (tuple) is not supported at /items");
  EXPECT_EQ(error_of(R"({"enum":[]})"), "schema: 'enum' must be a non-empty array at /enum");
  EXPECT_EQ(error_of(R"({"type":"string","enum":["a",1]})"),
            "schema: value 1 does not match 'type' at /enum/1");
  EXPECT_EQ(error_of(R"({"anyOf":[]})"), "schema: must be a non-empty array at /anyOf");
  EXPECT_EQ(error_of(R"({"anyOf":[{}],"type":"string"})"),
            "schema: 'anyOf' together with 'type' is not supported at /");
  EXPECT_EQ(error_of(R"({"$ref":"#/$defs/x","type":"string"})"),
            "schema: '$ref' together with 'type' is not supported at /");
  EXPECT_EQ(error_of(R"({"$ref":"other.json#/a"})"),
            "schema: '$ref' \"other.json#/a\" is not local (only '#/$defs/...' and "
            "'#/definitions/...') at /$ref");
  EXPECT_EQ(error_of(R"({"$ref":"#/$defs/missing"})"),
            "schema: '$ref' \"#/$defs/missing\" does not exist in the schema at /$ref");
  EXPECT_EQ(error_of(R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},
                        "$ref":"#/$defs/a"})"),
            "schema: '$ref' \"#/$defs/a\" refers back to itself before any value starts (left "
            "recursion) at /$defs/a/anyOf/0/$ref");
  EXPECT_EQ(error_of(R"({"$defs":[]})"), "schema: '$defs' must be an object at /$defs");
  EXPECT_EQ(error_of(R"({"additionalProperties":{"type":"string"},"properties":{"a":{}}})"),
            "schema: 'additionalProperties' as a schema together with 'properties' is not "
            "supported at /additionalProperties");
  EXPECT_EQ(error_of(R"({"properties":{"a b":{}}})", Dialect::kGemmaArgs),
            "schema: property name 'a b' cannot be a bare key in tool-call arguments "
            "([A-Za-z_][A-Za-z0-9_]*) at /properties/a b");
}

TEST(AGemmaArgsSchema, UsesBareKeysAndQuoteTokens) {
  auto g = gemma(R"({"type":"object","properties":{"city":{"type":"string"},
      "days":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},
      "unit":{"enum":["c","f"]}},"required":["city"]})");
  EXPECT_EQ(run(g, R"({city:<|"|>Paris "x" \ <|"|>,days:3,tags:[<|"|>a<|"|>],unit:<|"|>f<|"|>})"),
            Outcome::kMustEnd);
  EXPECT_FALSE(valid(g, R"({"city":"Paris"})"));
  EXPECT_FALSE(valid(g, R"({city: <|"|>Paris<|"|>})"));  // no spaces in the tool syntax
  EXPECT_TRUE(valid(g, "{city:<|\"|>a<b\nc<|\"|>}"));
  EXPECT_FALSE(valid(g, R"({city:<|"|>a<|b<|"|>})"));  // "<|" would read back as a token
  auto any = any_json_value(Dialect::kGemmaArgs);
  EXPECT_TRUE(valid(any, R"({a:[1,{b:<|"|>x<|"|>}],c_2:null})"));
  EXPECT_FALSE(valid(any, R"({"a":1})"));
}

TEST(AToolCallGrammar, MatchesDeclaredNamesAndTheirArguments) {
  std::vector<ToolSpec> tools = {
      {"get_weather", R"({"type":"object","properties":{"city":{"type":"string"}},
                          "required":["city"]})"},
      {"now", ""}};
  auto g = compile_tool_call(tools, std::nullopt);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(run(g.value(), R"(call:get_weather{city:<|"|>Oslo<|"|>})"), Outcome::kMustEnd);
  EXPECT_EQ(run(g.value(), "call:now{}"), Outcome::kMustEnd);
  EXPECT_FALSE(valid(g.value(), "call:other{}"));
  EXPECT_FALSE(valid(g.value(), "call:get_weather{}"));
  auto only = compile_tool_call(tools, std::string("now"));
  ASSERT_TRUE(only.ok());
  EXPECT_FALSE(valid(only.value(), R"(call:get_weather{city:<|"|>Oslo<|"|>})"));
  EXPECT_TRUE(valid(only.value(), "call:now{x:1}"));
}

TEST(AToolCallGrammar, RejectsBadDeclarations) {
  std::vector<ToolSpec> none;
  EXPECT_EQ(compile_tool_call(none, std::nullopt).error().message, "tools: none declared");
  std::vector<ToolSpec> bad = {{"a b", ""}};
  EXPECT_EQ(compile_tool_call(bad, std::nullopt).error().message,
            "tools[0].name 'a b' must be 1..256 characters of [A-Za-z0-9_.-]");
  std::vector<ToolSpec> twice = {{"f", ""}, {"f", ""}};
  EXPECT_EQ(compile_tool_call(twice, std::nullopt).error().message,
            "tools[1].name 'f' is declared twice");
  std::vector<ToolSpec> one = {{"f", R"({"format":1})"}};
  EXPECT_EQ(compile_tool_call(one, std::nullopt).error().message,
            "tools[0] 'f': schema: keyword 'format' is not supported at /");
  std::vector<ToolSpec> ok = {{"f", ""}};
  EXPECT_EQ(compile_tool_call(ok, std::string("g")).error().message,
            "tool_choice: function 'g' is not among the declared tools");
}

}  // namespace
}  // namespace gemmad::constrain
