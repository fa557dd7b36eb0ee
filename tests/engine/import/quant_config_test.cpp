// quantization_config matching (import/quant_config.h): the transformers dialect tries its
// regexes in order and honours modules_to_not_convert; compressed-tensors ranks an exact name
// over a "re:" regex over a class name, and `ignore` wins.
#include <gtest/gtest.h>

#include "import/quant_config.h"

namespace gemmad::import {
namespace {

using nlohmann::ordered_json;

QuantConfig load(const std::string& qc) {
  auto r = QuantConfig::from_config(ordered_json::parse(R"({"quantization_config":)" + qc + "}"));
  EXPECT_TRUE(r.ok()) << r.error().message;
  return *r;
}

TEST(QuantConfigTransformers, FirstMatchingRegexThenDefault) {
  QuantConfig q = load(R"({"quant_method":"gemma","num_bits":4,
    "module_quant_configs":{"m\\.embed_tokens_per_layer":4,"m\\.embed_tokens":2,
                            "m\\.layers\\.(15|16)\\.mlp\\.":{"num_bits":2}},
    "modules_to_not_convert":["m.proj"]})");
  EXPECT_EQ(q.layout(), Layout::kTransformers);
  EXPECT_EQ(q.rule_for("m.embed_tokens_per_layer", true).bits, 4);
  EXPECT_EQ(q.rule_for("m.embed_tokens", true).bits, 2);
  EXPECT_EQ(q.rule_for("m.layers.15.mlp.up_proj", false).bits, 2);
  EXPECT_EQ(q.rule_for("m.layers.1.mlp.up_proj", false).bits, 4);
  EXPECT_EQ(q.rule_for("m.proj", false).bits, 0);
  EXPECT_EQ(q.rule_for("x.m.layers.15.mlp.up_proj", false).bits, 4);  // anchored at the start
}

TEST(QuantConfigCompressedTensors, ExactBeatsRegexBeatsClassAndIgnoreWins) {
  QuantConfig q = load(R"({"quant_method":"compressed-tensors","config_groups":{
    "cls":{"targets":["Linear"],"weights":{"num_bits":4,"strategy":"channel"}},
    "re":{"targets":["re:.*mlp.*"],"weights":{"num_bits":2,"strategy":"channel"}},
    "ex":{"targets":["a.mlp.up"],"weights":{"num_bits":8,"strategy":"group","group_size":64}},
    "emb":{"targets":["Embedding"],"weights":{"num_bits":2,"strategy":"channel"}}},
    "ignore":["re:.*vision.*","lm_head"]})");
  EXPECT_EQ(q.layout(), Layout::kCompressedTensors);
  EXPECT_EQ(q.rule_for("a.attn.q", false).bits, 4);
  EXPECT_EQ(q.rule_for("a.mlp.down", false).bits, 2);
  EXPECT_EQ(q.rule_for("a.mlp.up", false).bits, 8);
  EXPECT_EQ(q.rule_for("a.mlp.up", false).group_size, 64);
  EXPECT_EQ(q.rule_for("a.embed", true).bits, 2);
  EXPECT_EQ(q.rule_for("a.vision.mlp.x", false).bits, 0);
  EXPECT_EQ(q.rule_for("lm_head", false).bits, 0);
}

TEST(QuantConfig, BadConfigsNameTheField) {
  auto bad = [](const std::string& qc, const std::string& frag) {
    auto r = QuantConfig::from_config(ordered_json::parse(R"({"quantization_config":)" + qc + "}"));
    ASSERT_FALSE(r.ok()) << qc;
    EXPECT_NE(r.error().message.find(frag), std::string::npos) << r.error().message;
  };
  bad(R"({"quant_method":"awq"})", "quant_method 'awq'");
  bad(R"({"quant_method":"gemma","num_bits":3})", "expected 2, 4 or 8");
  bad(R"({"quant_method":"gemma","module_quant_configs":{"(":4}})", "not a valid regex");
  bad(R"({"quant_method":"compressed-tensors","config_groups":{"g":{"targets":["Linear"],
      "weights":{"num_bits":4,"strategy":"tensor"}}}})",
      "strategy is 'tensor'");
  bad(R"({"quant_method":"compressed-tensors","config_groups":{"g":{"targets":["Linear"],
      "weights":{"num_bits":4,"strategy":"group"}}}})",
      "group_size");
}

TEST(QuantConfig, AbsentMeansUnquantized) {
  auto r = QuantConfig::from_config(ordered_json::parse("{}"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->layout(), Layout::kUnquantized);
}

}  // namespace
}  // namespace gemmad::import
