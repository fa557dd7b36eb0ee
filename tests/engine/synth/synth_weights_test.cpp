// Tests of the synthetic tensor fills: determinism, value distribution, and the block-pool
// path used for the large embedding tables.
#include "synth/synth_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "quant/ggml_type.h"

namespace gemmad::synth {
namespace {

using quant::GgmlType;

std::vector<uint8_t> fill(const std::string& name, GgmlType type, uint64_t cols, uint64_t rows,
                          uint64_t seed, ValueSpec spec) {
  std::vector<uint8_t> out(rows * *quant::row_bytes(type, cols));
  make_fill(name, type, cols, rows, seed, std::move(spec))(0, rows, out);
  return out;
}

// The same tensor filled `chunk` rows at a time by one fill object, as the writer does.
std::vector<uint8_t> fill_in_chunks(const std::string& name, GgmlType type, uint64_t cols,
                                    uint64_t rows, uint64_t seed, ValueSpec spec, uint64_t chunk) {
  const uint64_t row_bytes = *quant::row_bytes(type, cols);
  std::vector<uint8_t> out(rows * row_bytes);
  auto f = make_fill(name, type, cols, rows, seed, std::move(spec));
  for (uint64_t r = 0; r < rows; r += chunk) {
    const uint64_t e = std::min(rows, r + chunk);
    f(r, e, std::span<uint8_t>(out.data() + r * row_bytes, (e - r) * row_bytes));
  }
  return out;
}

std::vector<float> decode(GgmlType type, const std::vector<uint8_t>& bytes, uint64_t n) {
  std::vector<float> v(n);
  quant::dequantize_row_ref(type, bytes.data(), v.data(), static_cast<int64_t>(n));
  return v;
}

TEST(SynthWeights, FillDependsOnNameAndSeedOnly) {
  const ValueSpec s{0.0f, 1.0f, {}};
  const auto a = fill("blk.0.attn_q.weight", GgmlType::kF32, 64, 8, 1, s);
  EXPECT_EQ(a, fill("blk.0.attn_q.weight", GgmlType::kF32, 64, 8, 1, s));
  EXPECT_NE(a, fill("blk.1.attn_q.weight", GgmlType::kF32, 64, 8, 1, s));
  EXPECT_NE(a, fill("blk.0.attn_q.weight", GgmlType::kF32, 64, 8, 2, s));
}

TEST(SynthWeights, ChunkedFillsGiveTheSameBytesAsOneFill) {
  const ValueSpec s{0.0f, 1.0f, {}};
  EXPECT_EQ(fill("v", GgmlType::kQ8_0, 64, 37, 5, s),
            fill_in_chunks("v", GgmlType::kQ8_0, 64, 37, 5, s, 5));
  // Large enough for the block pool: chunks reuse one pool and pick the same blocks.
  const uint64_t rows = 4 * uint64_t{kPoolBlocks} / 2 + 8;
  ASSERT_TRUE(uses_block_pool(GgmlType::kQ4_0, 256, rows));
  EXPECT_EQ(fill("p", GgmlType::kQ4_0, 256, rows, 5, s),
            fill_in_chunks("p", GgmlType::kQ4_0, 256, rows, 5, s, 1000));
}

TEST(SynthWeights, UniformValuesStayInRangeWithTheExpectedSpread) {
  const auto bytes = fill("x", GgmlType::kF32, 256, 64, 3, ValueSpec{1.0f, 0.5f, {}});
  const auto v = decode(GgmlType::kF32, bytes, 256 * 64);
  double mean = 0, var = 0;
  for (float x : v) {
    ASSERT_GE(x, 0.5f);
    ASSERT_LT(x, 1.5f);
    mean += x;
  }
  mean /= v.size();
  for (float x : v)
    var += (x - mean) * (x - mean);
  var /= v.size();
  EXPECT_NEAR(mean, 1.0, 0.01);
  EXPECT_NEAR(std::sqrt(var), 0.5 / std::sqrt(3.0), 0.01);  // uniform half-width 0.5
}

TEST(SynthWeights, ConstantsAreWrittenExactly) {
  const auto bytes = fill("rope_freqs.weight", GgmlType::kF32, 4, 1, 0,
                          ValueSpec{0.0f, 0.0f, {1.0f, 1.0f, 1e30f, 1e30f}});
  EXPECT_EQ(decode(GgmlType::kF32, bytes, 4), (std::vector<float>{1.0f, 1.0f, 1e30f, 1e30f}));
}

TEST(SynthWeights, LargeQ6KTablesAreAssembledFromValidPoolBlocks) {
  // Enough blocks to take the pool path: every row is made of pool blocks, so each decoded
  // block equals one of kPoolBlocks patterns; values keep the requested distribution.
  const uint64_t cols = 1024, rows = kPoolUseFactor * kPoolBlocks / 4 + 8;
  ASSERT_TRUE(uses_block_pool(GgmlType::kQ6_K, cols, rows));
  ASSERT_FALSE(uses_block_pool(GgmlType::kQ6_K, cols, 4));
  ASSERT_FALSE(uses_block_pool(GgmlType::kF32, cols, rows));
  const float hw = 0.1f;
  const auto bytes = fill("token_embd.weight", GgmlType::kQ6_K, cols, rows, 5, {0.0f, hw, {}});
  EXPECT_EQ(bytes, fill("token_embd.weight", GgmlType::kQ6_K, cols, rows, 5, {0.0f, hw, {}}));
  const auto v = decode(GgmlType::kQ6_K, bytes, cols * rows);
  double s2 = 0;
  for (float x : v) {
    ASSERT_LE(std::fabs(x), hw * 1.01f);
    s2 += double(x) * x;
  }
  EXPECT_NEAR(std::sqrt(s2 / v.size()), hw / std::sqrt(3.0), 0.01 * hw);
  // Rows differ from each other (blocks are picked per (row, block), not repeated).
  EXPECT_NE(std::memcmp(bytes.data(), bytes.data() + 4 * 210, 4 * 210), 0);
}

}  // namespace
}  // namespace gemmad::synth
