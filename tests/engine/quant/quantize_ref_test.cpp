// Tests of quantize_row_ref: hand-worked encodings (Q4_0 and Q8_0 follow ggml's reference
// rounding), then quantise -> dequantise round trips on Gaussian data with stated bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "quant/ggml_type.h"

namespace gemmad::quant {
namespace {

std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(*row_bytes(t, x.size()), 0xEE);
  quantize_row_ref(t, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
  const std::vector<uint8_t> q = quantize(t, x);
  std::vector<float> y(x.size());
  dequantize_row_ref(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x)
    v = dist(rng);
  return x;
}

TEST(QuantizeRef, Q4_0UsesTheSignedAbsmaxOverMinusEight) {
  // Signed absmax m = -4, so d = -4 / -8 = 0.5 (fp16 0x3800) and x / d = 2x.
  // Code = min(15, trunc(2x + 8.5)):
  //   x0 = -4    -> 0.5  -> 0        x1 = 3.9  -> 16.3 -> 16 -> clamped to 15
  //   x2 = 0.24  -> 8.98 -> 8        x3 = 0.26 -> 9.02 -> 9
  //   x4 = -0.25 -> 8.0  -> 8        x17 = 1.0 -> 10.5 -> 10
  //   every other x = 0 -> 8.5 -> 8
  std::vector<float> x(32, 0.0f);
  x[0] = -4.0f;
  x[1] = 3.9f;
  x[2] = 0.24f;
  x[3] = 0.26f;
  x[4] = -0.25f;
  x[17] = 1.0f;
  const std::vector<uint8_t> q = quantize(GgmlType::kQ4_0, x);
  ASSERT_EQ(q.size(), 18u);
  EXPECT_EQ(q[0], 0x00);
  EXPECT_EQ(q[1], 0x38);
  // qs[j] = code(j) | code(j + 16) << 4.
  const uint8_t want_qs[16] = {0x80, 0xAF, 0x88, 0x89, 0x88, 0x88, 0x88, 0x88,
                               0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(q[2 + j], want_qs[j]) << j;
}

TEST(QuantizeRef, Q4_0MapsAPositiveAbsmaxToCodeZeroExactly) {
  // m = +4: d = -0.5; x = 4 -> 4 / -0.5 + 8.5 = 0.5 -> code 0 -> (0 - 8) * -0.5 = 4.
  std::vector<float> x(32, 0.0f);
  x[5] = 4.0f;
  x[6] = -1.0f;  // -1 / -0.5 + 8.5 = 10.5 -> 10 -> (10 - 8) * -0.5 = -1
  const std::vector<float> y = round_trip(GgmlType::kQ4_0, x);
  EXPECT_EQ(y[5], 4.0f);
  EXPECT_EQ(y[6], -1.0f);
  EXPECT_EQ(y[0], 0.0f);
}

TEST(QuantizeRef, Q8_0RoundsToTheNearestStepOfAbsmaxOver127) {
  // amax = 127 -> d = 1 (fp16 0x3C00); codes are round(x).
  std::vector<float> x(32, 0.0f);
  x[0] = -127.0f;
  x[1] = 2.4f;   // -> 2
  x[2] = -2.6f;  // -> -3
  x[3] = 0.4f;   // -> 0
  const std::vector<uint8_t> q = quantize(GgmlType::kQ8_0, x);
  ASSERT_EQ(q.size(), 34u);
  EXPECT_EQ(q[0], 0x00);
  EXPECT_EQ(q[1], 0x3C);
  EXPECT_EQ(static_cast<int8_t>(q[2]), -127);
  EXPECT_EQ(static_cast<int8_t>(q[3]), 2);
  EXPECT_EQ(static_cast<int8_t>(q[4]), -3);
  EXPECT_EQ(static_cast<int8_t>(q[5]), 0);
}

TEST(QuantizeRef, Q2_0EncodesTheFourLevelsOfABlockExactly) {
  // Values on the grid {-1, 0, 1, 2} * 0.5 with m = 1 (at code 3): the search's first
  // candidate d = m / 2 = 0.5 has zero error, so the codes are exact: (x / d) + 1.
  std::vector<float> x(64, 0.0f);
  x[0] = -0.5f;  // code 0
  x[1] = 0.5f;   // code 2
  x[2] = 1.0f;   // code 3
  const std::vector<uint8_t> q = quantize(GgmlType::kQ2_0, x);
  EXPECT_EQ(q[0], 0x00);
  EXPECT_EQ(q[1], 0x38);  // d = 0.5
  EXPECT_EQ(q[2], 0x78);  // 01 11 10 00: codes 0, 2, 3, 1 (LSB first)
  for (int i = 3; i < 18; ++i)
    EXPECT_EQ(q[i], 0x55) << i;  // code 1 = value 0
}

TEST(QuantizeRef, FloatTypesRoundToNearest) {
  const std::vector<float> x = {1.0f, -2.5f, 0.1f, 65504.0f};
  EXPECT_EQ(round_trip(GgmlType::kF32, x), x);
  const std::vector<float> h = round_trip(GgmlType::kF16, x);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.5f);
  EXPECT_EQ(h[2], 0.0999755859375f);  // nearest half to 0.1: 1638/16384
  EXPECT_EQ(h[3], 65504.0f);
  const std::vector<float> b = round_trip(GgmlType::kBF16, x);
  EXPECT_EQ(b[1], -2.5f);
  EXPECT_EQ(b[2], 0.10009765625f);  // 0x3DCD: nearest bf16 to 0.1 (0x3DCCCCCD rounds up)
}

struct Bound {
  GgmlType type;
  double max_rel_rms;  // RMS error / RMS of the data
  const char* why;
};

// Bounds for N(0, 1) data (measured values in brackets, for seed 42). Step sizes: Q8_0
// amax/127 (rms err ~ step/sqrt(12) ~ 0.006) [0.0054]; Q6_K group absmax/32 with int8 scales
// (~0.02) [0.019]; Q4_0 block absmax/8 (~0.08) [0.087]; Q4_K group range/15 plus 6-bit
// scale/min rounding (~0.08) [0.079]; Q2_0 four levels per 64 values (an optimal 4-level
// quantiser of a Gaussian has rms 0.34) [0.360].
const Bound kBounds[] = {
    {GgmlType::kF16, 3e-4, "rel 2^-11 / sqrt(3)"}, {GgmlType::kBF16, 2.5e-3, "rel 2^-8 / sqrt(3)"},
    {GgmlType::kQ8_0, 0.007, "amax/127/sqrt(12)"}, {GgmlType::kQ6_K, 0.025, "absmax/32/sqrt(12)"},
    {GgmlType::kQ4_0, 0.10, "absmax/8/sqrt(12)"},  {GgmlType::kQ4_K, 0.10, "range/15/sqrt(12)"},
    {GgmlType::kQ2_0, 0.42, "4 levels"},
};

TEST(QuantizeRef, RoundTripsGaussianDataWithinTheStatedBounds) {
  const std::vector<float> x = gaussian(4096, 42);
  for (const Bound& b : kBounds) {
    SCOPED_TRACE(std::string(traits(b.type).name) + ": " + b.why);
    const std::vector<float> y = round_trip(b.type, x);
    double err2 = 0;
    double sig2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << i;
      err2 += (x[i] - y[i]) * (x[i] - y[i]);
      sig2 += x[i] * x[i];
    }
    EXPECT_LT(std::sqrt(err2 / sig2), b.max_rel_rms);
  }
}

// Per-element worst case, relative to the absmax of the block the element is in.
TEST(QuantizeRef, KeepsEveryElementWithinOneStepOfItsBlockScale) {
  const std::vector<float> x = gaussian(2048, 7);
  struct Step {
    GgmlType type;
    int block;
    double steps_of_absmax;  // max |err| / block absmax
  };
  // Q8_0: half a step (1/254) plus fp16 rounding of d (127 * 2^-11 steps) -> < 1/127.
  // Q4_0: one step (1/8), reached only by a value of the opposite sign near +absmax that is
  //       clamped from code 16 to 15.
  // Q6_K: group steps are at most absmax/32; half a step plus the int8 scale rounding -> 1/32.
  // Q4_K: groups of 32 span [min, max] <= 2 absmax in 15 steps; 6-bit scale/min rounding adds
  //       about one step -> 2 * 2/15.
  // Q2_0: levels are spaced |d| <= absmax/2 apart, clamped at both ends -> absmax.
  const Step steps[] = {{GgmlType::kQ8_0, 32, 1.0 / 127},
                        {GgmlType::kQ4_0, 32, 1.0 / 8 + 1e-3},
                        {GgmlType::kQ6_K, 256, 1.0 / 32},
                        {GgmlType::kQ4_K, 256, 4.0 / 15},
                        {GgmlType::kQ2_0, 64, 1.0}};
  for (const Step& s : steps) {
    SCOPED_TRACE(traits(s.type).name);
    const std::vector<float> y = round_trip(s.type, x);
    for (size_t b0 = 0; b0 < x.size(); b0 += s.block) {
      float amax = 0;
      for (int i = 0; i < s.block; ++i)
        amax = std::max(amax, std::fabs(x[b0 + i]));
      for (int i = 0; i < s.block; ++i) {
        ASSERT_LE(std::fabs(x[b0 + i] - y[b0 + i]), s.steps_of_absmax * amax) << b0 + i;
      }
    }
  }
}

TEST(QuantizeRef, IsDeterministicAndMapsZerosToZeros) {
  const std::vector<float> x = gaussian(512, 3);
  const std::vector<float> zeros(512, 0.0f);
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ6_K, GgmlType::kQ4_K,
                     GgmlType::kQ2_0, GgmlType::kF16, GgmlType::kBF16}) {
    SCOPED_TRACE(traits(t).name);
    EXPECT_EQ(quantize(t, x), quantize(t, x));
    for (float v : round_trip(t, zeros))
      ASSERT_EQ(v, 0.0f);
  }
}

TEST(QuantizeRef, ConfinesNonFiniteInputToItsOwnBlock) {
  // Synthetic weights never contain NaN/inf, but the quantisers must not invoke UB (float to
  // int conversion out of range; UBSan builds run this) and must not disturb other blocks.
  std::vector<float> x(512, 1.0f);
  x[3] = NAN;
  x[9] = INFINITY;
  x[100] = -INFINITY;
  for (GgmlType t :
       {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ6_K, GgmlType::kQ4_K, GgmlType::kQ2_0}) {
    SCOPED_TRACE(traits(t).name);
    const std::vector<float> y = round_trip(t, x);
    for (size_t i = 256; i < x.size(); ++i)
      ASSERT_NEAR(y[i], 1.0f, 0.01f) << i;
  }
}

}  // namespace
}  // namespace gemmad::quant
