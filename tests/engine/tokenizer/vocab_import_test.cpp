// Import of a Hugging Face tokenizer.json (docs/TOKENIZER.md): token types, merges in both
// notations, and errors that name the field. The Gemma 4 renames are checked on the real file
// in real_vocab_test.cpp.
#include "tokenizer/vocab_import.h"

#include <gtest/gtest.h>

#include <string>

#include "tokenizer/tokenizer.h"

namespace gemmad::tokenizer {
namespace {

// <pad> <eos> <bos> <unk> specials, a non-special added token, byte tokens for 'a' (0x61)
// and 0xC3, and a few normal pieces; merges in both notations.
constexpr const char* kTinyJson = R"({
  "added_tokens": [
    {"id": 0, "content": "<pad>", "special": true},
    {"id": 1, "content": "<eos>", "special": true},
    {"id": 2, "content": "<bos>", "special": true},
    {"id": 3, "content": "<unk>", "special": true},
    {"id": 4, "content": "<b>", "special": false}
  ],
  "model": {
    "type": "BPE", "byte_fallback": true,
    "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<b>": 4, "<0x61>": 5,
              "<0xC3>": 6, "\u2581": 7, "h": 8, "i": 9, "hi": 10, "\u2581hi": 11},
    "merges": ["h i", ["\u2581", "hi"]]
  }
})";

TEST(VocabImport, TypesTokensAndReadsBothMergeNotations) {
  VocabImportSummary sum;
  auto data = import_hf_tokenizer_json(kTinyJson, {.gemma4 = false}, &sum);
  ASSERT_TRUE(data.ok()) << data.error().message;
  ASSERT_EQ(data->tokens.size(), 12u);
  EXPECT_EQ(data->types[0], TokenType::kControl);
  EXPECT_EQ(data->types[4], TokenType::kUserDefined);
  EXPECT_EQ(data->types[5], TokenType::kByte);
  EXPECT_EQ(data->types[7], TokenType::kNormal);
  EXPECT_EQ(data->merges, (std::vector<std::string>{"h i", "\u2581 hi"}));
  EXPECT_EQ(data->bos_id, 2);
  EXPECT_EQ(data->eos_id, 1);
  EXPECT_EQ(sum.n_control, 4u);
  EXPECT_EQ(sum.n_user_defined, 1u);
  EXPECT_EQ(sum.n_byte, 2u);
  EXPECT_EQ(sum.n_merges, 2u);
  // The result is a working tokenizer: " hi" -> ▁hi; "<b>" is always matched.
  auto tok = Tokenizer::from_data(*data);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ((*tok)->encode(" hi<b>"), (std::vector<TokenId>{11, 4}));
}

TEST(VocabImport, RefusesANonGemmaSizedVocabularyWhenApplyingGemma4Renames) {
  auto data = import_hf_tokenizer_json(kTinyJson);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.error().message.find("12 entries"), std::string::npos);
}

std::string import_error(const std::string& json) {
  auto data = import_hf_tokenizer_json(json, {.gemma4 = false});
  return data.ok() ? "" : data.error().message;
}

TEST(VocabImport, NamesTheFieldThatIsWrong) {
  EXPECT_NE(import_error("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(import_error(R"({"model": {"type": "Unigram"}})").find("model.type"),
            std::string::npos);
  EXPECT_NE(import_error(R"({"model": {"type": "BPE", "merges": []}})").find("model.vocab"),
            std::string::npos);
  // Ids with a gap.
  EXPECT_NE(import_error(R"({"model": {"vocab": {"a": 0, "b": 2}, "merges": []}})")
                .find("no token has id 1"),
            std::string::npos);
  // A merge that is neither notation.
  EXPECT_NE(
      import_error(R"({"model": {"vocab": {"a": 0}, "merges": [3]}})").find("model.merges[0]"),
      std::string::npos);
  // Wrong JSON types deep inside are errors, not exceptions.
  EXPECT_NE(import_error(R"({"model": {"vocab": {"a": 0}, "merges": []},
                            "added_tokens": [{"id": 0, "content": "a", "special": "yes"}]})"),
            "");
  EXPECT_NE(
      import_error(R"({"model": {"vocab": {"a": "zero"}, "merges": []}})").find("model.vocab['a']"),
      std::string::npos);
}

TEST(VocabImport, ReportsAMissingFileAsAnIoError) {
  auto data = import_hf_tokenizer_file("/nonexistent/tokenizer.json");
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().code, ErrorCode::kIo);
  EXPECT_NE(data.error().message.find("/nonexistent/tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::tokenizer
