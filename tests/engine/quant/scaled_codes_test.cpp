// Packing of the scaled-code types (quant/scaled_codes.h): the byte layouts of both Google
// layouts, written out by hand, and round trips over every value.
#include <gtest/gtest.h>

#include <vector>

#include "quant/ggml_type.h"
#include "quant/scaled_codes.h"

namespace gemmad::quant {
namespace {

TEST(ScaledCodes, TraitsArePrivateIdsWithCompanionScales) {
  for (uint32_t id : {4098u, 4100u, 4104u}) {
    auto t = type_traits(id);
    ASSERT_TRUE(t.has_value());
    EXPECT_FALSE(t->computable);  // needs its scale tensor
    EXPECT_NE(t->code_bits, 0);
  }
  EXPECT_EQ(traits(GgmlType::kGQ4).name, "gq4");
  EXPECT_EQ(*row_bytes(GgmlType::kGQ2, 64), 16u);
  EXPECT_EQ(*row_bytes(GgmlType::kGQ4, 64), 32u);
  EXPECT_EQ(*row_bytes(GgmlType::kGQ8, 64), 64u);
  EXPECT_FALSE(type_traits(4099).has_value());  // unknown ids stay unknown
}

TEST(ScaledCodes, Gq4IsLowNibbleFirstWithOffset8) {
  const uint8_t bytes[2] = {0x0F, 0x80};  // codes 15, 0, 0, 8 -> 7, -8, -8, 0
  int8_t k[4];
  decode_codes(GgmlType::kGQ4, bytes, k, 4);
  EXPECT_EQ(k[0], 7);
  EXPECT_EQ(k[1], -8);
  EXPECT_EQ(k[2], -8);
  EXPECT_EQ(k[3], 0);
}

TEST(ScaledCodes, Gq2IsLeastSignificantFirstWithOffset2) {
  const uint8_t byte = 0b11100100;  // codes 0, 1, 2, 3 -> -2, -1, 0, 1
  int8_t k[4];
  decode_codes(GgmlType::kGQ2, &byte, k, 4);
  EXPECT_EQ(k[0], -2);
  EXPECT_EQ(k[1], -1);
  EXPECT_EQ(k[2], 0);
  EXPECT_EQ(k[3], 1);
}

TEST(ScaledCodes, EncodeDecodeRoundTripsEveryValue) {
  for (GgmlType t : {GgmlType::kGQ2, GgmlType::kGQ4, GgmlType::kGQ8}) {
    std::vector<int8_t> k;
    for (int v = code_min(t); v <= code_max(t); ++v)
      k.push_back(static_cast<int8_t>(v));
    while (k.size() % 4)
      k.push_back(0);
    std::vector<uint8_t> bytes(k.size());
    encode_codes(t, k.data(), bytes.data(), static_cast<int64_t>(k.size()));
    std::vector<int8_t> back(k.size());
    decode_codes(t, bytes.data(), back.data(), static_cast<int64_t>(k.size()));
    EXPECT_EQ(back, k) << traits(t).name;
  }
}

TEST(ScaledCodes, DequantizeAppliesOneScalePerGroup) {
  const int8_t k[8] = {1, -1, 2, -2, 3, -3, 4, -4};
  uint8_t bytes[8];
  encode_codes(GgmlType::kGQ8, k, bytes, 8);
  const float scales[2] = {0.5f, 2.0f};
  float out[8];
  dequantize_scaled_row(GgmlType::kGQ8, bytes, scales, 4, out, 8);
  const float want[8] = {0.5f, -0.5f, 1.0f, -1.0f, 6.0f, -6.0f, 8.0f, -8.0f};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(out[i], want[i]);
}

}  // namespace
}  // namespace gemmad::quant
