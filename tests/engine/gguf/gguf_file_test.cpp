// Tests of GgufFile on valid files: every value type, tensors, getters, formatting
// (docs/GEMMA4.md §3.1).
#include <gtest/gtest.h>

#include <cmath>

#include "gguf/gguf_file.h"
#include "gguf_bytes.h"

namespace gemmad::gguf {
namespace {

using testing::GgufBytes;

// One key of every value type 0..12 (and arrays of several element types), no tensors.
GgufBytes every_value_type() {
  GgufBytes b;
  b.header(0, 19);
  b.key("u8", 0).pod<uint8_t>(200);
  b.key("i8", 1).pod<int8_t>(-100);
  b.key("u16", 2).pod<uint16_t>(60000);
  b.key("i16", 3).pod<int16_t>(-30000);
  b.key("u32", 4).u32(4000000000u);
  b.key("i32", 5).pod<int32_t>(-2000000000);
  b.key("f32", 6).pod<float>(1.5f);
  b.key("bool", 7).pod<uint8_t>(1);
  b.key("string", 8).str("hello");
  b.key("u64", 10).u64(UINT64_MAX);
  b.key("i64", 11).pod<int64_t>(INT64_MIN);
  b.key("f64", 12).pod<double>(0.25);
  b.key("arr.i32", 9).u32(5).u64(3).pod<int32_t>(1).pod<int32_t>(-2).pod<int32_t>(3);
  b.key("arr.u8", 9).u32(0).u64(2).pod<uint8_t>(7).pod<uint8_t>(255);
  b.key("arr.f64", 9).u32(12).u64(2).pod<double>(0.5).pod<double>(-1.0);
  b.key("arr.bool", 9).u32(7).u64(3).pod<uint8_t>(1).pod<uint8_t>(0).pod<uint8_t>(1);
  b.key("arr.str", 9).u32(8).u64(3).str("a").str("").str("ccc");
  b.key("arr.empty", 9).u32(6).u64(0);
  b.key("arr.u64big", 9).u32(10).u64(1).u64(UINT64_MAX);
  return b;
}

std::unique_ptr<GgufFile> parse_ok(const GgufBytes& b) {
  auto r = GgufFile::parse(b.bytes, "test.gguf");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(GgufFile, ParsesEveryValueType) {
  const GgufBytes b = every_value_type();
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 19u);
  EXPECT_EQ(f->tensors().size(), 0u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->metadata()[0].key, "u8");  // file order is kept
  EXPECT_EQ(*f->get_uint("u8"), 200u);
  EXPECT_EQ(*f->get_int("i8"), -100);
  EXPECT_EQ(*f->get_uint("u16"), 60000u);
  EXPECT_EQ(*f->get_int("i16"), -30000);
  EXPECT_EQ(*f->get_uint("u32"), 4000000000u);
  EXPECT_EQ(*f->get_int("i32"), -2000000000);
  EXPECT_EQ(*f->get_float("f32"), 1.5f);
  EXPECT_EQ(*f->get_bool("bool"), true);
  EXPECT_EQ(*f->get_string("string"), "hello");
  EXPECT_EQ(*f->get_uint("u64"), UINT64_MAX);
  EXPECT_EQ(*f->get_int("i64"), INT64_MIN);
  EXPECT_EQ(*f->get_float("f64"), 0.25f);
  EXPECT_EQ(*f->get_int_array("arr.i32"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->get_int_array("arr.u8"), (std::vector<int64_t>{7, 255}));
  EXPECT_EQ(*f->get_float_array("arr.f64"), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(*f->get_bool_array("arr.bool"), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(*f->get_string_array("arr.str"), (std::vector<std::string_view>{"a", "", "ccc"}));
  EXPECT_TRUE(f->get_float_array("arr.empty")->empty());
  const KeyValue* kv = f->find("arr.str");
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ(kv->type, ValueType::kArray);
  EXPECT_EQ(kv->array_type, ValueType::kString);
  EXPECT_EQ(kv->array_count, 3u);
  EXPECT_EQ(f->find("absent"), nullptr);
}

TEST(GgufFile, IntegerGettersAcceptAnyIntegerTypeThatFits) {
  const GgufBytes b = every_value_type();  // must outlive f: f views its bytes
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->get_int("u32"), 4000000000);  // u32 read as signed
  EXPECT_EQ(*f->get_uint("u8"), 200u);
  // Negative values have no unsigned reading; u64 max has no signed one.
  const Result<uint64_t> neg = f->get_uint("i8");
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message.find("'i8'"), std::string::npos);
  EXPECT_NE(neg.error().message.find("-100"), std::string::npos);
  EXPECT_FALSE(f->get_int("u64").ok());
  EXPECT_FALSE(f->get_int_array("arr.u64big").ok());
}

TEST(GgufFile, GettersNameTheKeyAndSayWhatIsWrong) {
  const GgufBytes b = every_value_type();  // must outlive f: f views its bytes
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  const Result<uint64_t> absent = f->get_uint("gemma4.block_count");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(absent.error().message, "test.gguf: key 'gemma4.block_count' is absent");
  const Result<float> wrong = f->get_float("string");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kBadModelFile);
  EXPECT_EQ(wrong.error().message, "test.gguf: key 'string' has type string, expected f32 or f64");
  EXPECT_FALSE(f->get_string("u8").ok());
  EXPECT_FALSE(f->get_bool("u8").ok());
  EXPECT_FALSE(f->get_uint("f32").ok());
  EXPECT_FALSE(f->get_int_array("arr.str").ok());
  EXPECT_FALSE(f->get_float_array("arr.i32").ok());
  EXPECT_FALSE(f->get_bool_array("arr.i32").ok());
  EXPECT_FALSE(f->get_string_array("arr.i32").ok());
  EXPECT_FALSE(f->get_string_array("string").ok());
}

TEST(GgufFile, IntArraysAcceptAScalarOnlyWhenAllowed) {
  // docs/GEMMA4.md §3.2: gemma4.feed_forward_length is "u32 or i32[L]".
  const GgufBytes b = every_value_type();  // must outlive f: f views its bytes
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->get_int_array("i16").ok());
  EXPECT_EQ(*f->get_int_array("i16", /*allow_scalar=*/true), (std::vector<int64_t>{-30000}));
  EXPECT_EQ(*f->get_int_array("arr.i32", true), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_FALSE(f->get_int_array("f32", true).ok());
}

TEST(GgufFile, FormatsScalarsInFullAndSummarisesArrays) {
  const GgufBytes b = every_value_type();  // must outlive f: f views its bytes
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(format_value(*f->find("i8")), "-100");
  EXPECT_EQ(format_value(*f->find("u64")), "18446744073709551615");
  EXPECT_EQ(format_value(*f->find("f32")), "1.5");
  EXPECT_EQ(format_value(*f->find("bool")), "true");
  EXPECT_EQ(format_value(*f->find("string")), "\"hello\"");
  EXPECT_EQ(format_value(*f->find("arr.i32")), "[i32; 3] 1, -2, 3");
  EXPECT_EQ(format_value(*f->find("arr.i32"), 2), "[i32; 3] 1, -2, ...");
  EXPECT_EQ(format_value(*f->find("arr.str")), "[string; 3] \"a\", \"\", \"ccc\"");
  EXPECT_EQ(format_value(*f->find("arr.empty")), "[f32; 0]");
}

TEST(GgufFile, LocatesTensorDataAfterTheAlignedHeader) {
  GgufBytes b;
  b.header(2, 1);
  b.key("general.alignment", 4).u32(64);
  b.tensor_info("a", {4, 2}, 0, 0);  // f32 [4, 2] = 32 bytes at 0
  b.tensor_info("b", {64}, 2, 64);   // q4_0 [64] = 2 blocks = 36 bytes at 64
  b.pad_to(64);
  const size_t data_start = b.bytes.size();
  b.zeros(128);
  b.bytes[data_start] = 0xAB;
  b.bytes[data_start + 64] = 0xCD;
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset(), data_start);
  EXPECT_EQ(f->file_size(), b.bytes.size());
  const TensorInfo* a = f->find_tensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->n_dims, 2u);
  EXPECT_EQ(a->ne[0], 4u);
  EXPECT_EQ(a->ne[1], 2u);
  EXPECT_EQ(a->ne[2], 1u);
  EXPECT_EQ(a->n_elements, 8u);
  EXPECT_EQ(a->n_bytes, 32u);
  EXPECT_EQ(a->data[0], 0xAB);
  const TensorInfo* t = f->find_tensor("b");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, quant::GgmlType::kQ4_0);
  EXPECT_EQ(t->n_bytes, 36u);
  EXPECT_EQ(t->offset, 64u);
  EXPECT_EQ(t->data[0], 0xCD);
  EXPECT_EQ(f->find_tensor("c"), nullptr);
}

TEST(GgufFile, OpensAVocabularyOnlyFileWithoutADataSection) {
  GgufBytes b;
  b.header(0, 2);
  b.key("general.architecture", 8).str("gemma4");
  b.key("tokenizer.ggml.tokens", 9).u32(8).u64(2).str("<pad>").str("<eos>");
  auto f = parse_ok(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 2u);
}

TEST(GgufFile, ReportsAMissingFileAsAnIoError) {
  auto r = GgufFile::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find("/nonexistent/dir/model.gguf"), std::string::npos);
}

TEST(GgufFile, RejectsADirectory) {
  auto r = GgufFile::open("/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadModelFile);
}

}  // namespace
}  // namespace gemmad::gguf
