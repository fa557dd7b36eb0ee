// Tests of the ggml type table and row sizes (docs/GEMMA4.md §3.6).
#include <gtest/gtest.h>

#include "quant/ggml_type.h"

namespace gemmad::quant {
namespace {

struct Expected {
  uint32_t id;
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
  bool computable;
};

// Geometry as listed in docs/GEMMA4.md §3.6 and ggml's GGML_QUANT_SIZES, typed in by hand.
constexpr Expected kExpected[] = {
    {0, "f32", 1, 4, true},        {1, "f16", 1, 2, true},        {2, "q4_0", 32, 18, true},
    {3, "q4_1", 32, 20, false},    {6, "q5_0", 32, 22, false},    {7, "q5_1", 32, 24, false},
    {8, "q8_0", 32, 34, true},     {9, "q8_1", 32, 36, false},    {10, "q2_K", 256, 84, false},
    {11, "q3_K", 256, 110, false}, {12, "q4_K", 256, 144, true},  {13, "q5_K", 256, 176, false},
    {14, "q6_K", 256, 210, true},  {15, "q8_K", 256, 292, false}, {24, "i8", 1, 1, false},
    {25, "i16", 1, 2, false},      {26, "i32", 1, 4, false},      {27, "i64", 1, 8, false},
    {28, "f64", 1, 8, false},      {30, "bf16", 1, 2, true},      {41, "q1_0", 128, 18, false},
    {42, "q2_0", 64, 18, true},
};

TEST(GgmlTypeTraits, MatchTheGgmlBlockGeometryOfEveryKnownId) {
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.name);
    const std::optional<TypeTraits> t = type_traits(e.id);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(static_cast<uint32_t>(t->type), e.id);
    EXPECT_EQ(t->name, e.name);
    EXPECT_EQ(t->block_elems, e.block_elems);
    EXPECT_EQ(t->block_bytes, e.block_bytes);
    EXPECT_EQ(t->computable, e.computable);
    EXPECT_EQ(traits(t->type).name, e.name);
  }
}

TEST(GgmlTypeTraits, AreAbsentForUnknownIds) {
  for (uint32_t id : {4u, 5u, 16u, 23u, 29u, 31u, 40u, 43u, 9999u, 0xffffffffu}) {
    EXPECT_FALSE(type_traits(id).has_value()) << id;
  }
}

TEST(GgmlTypeTraits, CanQuantizeExactlyTheListedTypes) {
  for (const Expected& e : kExpected) {
    const GgmlType t = static_cast<GgmlType>(e.id);
    const bool want = e.id == 0 || e.id == 1 || e.id == 30 || e.id == 8 || e.id == 2 ||
                      e.id == 14 || e.id == 12 || e.id == 42;
    EXPECT_EQ(can_quantize(t), want) << e.name;
  }
}

TEST(RowBytes, CountsWholeBlocks) {
  EXPECT_EQ(*row_bytes(GgmlType::kF32, 7), 28u);
  EXPECT_EQ(*row_bytes(GgmlType::kQ4_0, 1536), 1536u / 32 * 18);
  EXPECT_EQ(*row_bytes(GgmlType::kQ6_K, 2560), 10u * 210);
  EXPECT_EQ(*row_bytes(GgmlType::kQ2_0, 128), 36u);
  EXPECT_EQ(*row_bytes(GgmlType::kBF16, 0), 0u);
}

TEST(RowBytes, RejectsLengthsThatAreNotAMultipleOfTheBlock) {
  const Result<uint64_t> r = row_bytes(GgmlType::kQ4_K, 300);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("300"), std::string::npos);
  EXPECT_NE(r.error().message.find("256"), std::string::npos);
}

TEST(RowBytes, RejectsByteCountsThatOverflow) {
  // 2^63 f32 elements are 2^65 bytes.
  EXPECT_FALSE(row_bytes(GgmlType::kF32, uint64_t{1} << 63).ok());
  EXPECT_FALSE(row_bytes(GgmlType::kQ8_1, (UINT64_MAX / 32) * 32).ok());
}

}  // namespace
}  // namespace gemmad::quant
