// blocked_matmul / gemm_rows (kernels/blocked_gemm.h) against their scalar twins: matmul_ref for
// every weight type (the same function: for quantised weights both multiply the Q8_0-rounded
// activations), and for float weights also the exact double product. Shapes straddle the
// weight tiles (16 to 48 rows here), with tails; below the 32-row threshold the result is
// matmul()'s bits.
//
// Tolerance: as matmul_test, 8 u sqrt(N + 16) M with M = sum_i |w_i| |x_i| (w dequantised), the
// scale of two f32 sums of N terms rounded in different orders; a wrong tile, row, stride or
// transpose moves a result by whole terms.
#include "kernels/blocked_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"

namespace gemmad::kernels {
namespace {

using quant::GgmlType;
using testing::random_activations;
using testing::random_rows;

constexpr double kU = 1.0 / (1 << 24);

double tolerance(int64_t n, double magnitude) {
  return 8 * kU * std::sqrt(static_cast<double>(n) + 16) * magnitude;
}

bool is_float(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

TEST(BlockedGemm, MatchesTheScalarTwinForEveryWeightType) {
  ThreadPool pool(2);
  const GgmlType types[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,
                            GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ6_K};
  for (GgmlType type : types) {
    const int64_t block = quant::traits(type).block_elems;
    for (const int64_t n_in : {block, 3 * block, int64_t{768}}) {
      for (const int64_t n_out : {int64_t{1}, int64_t{63}, int64_t{64}, int64_t{130}}) {
        for (const int64_t n_tok : {kBlockedMinRows, int64_t{77}}) {
          SCOPED_TRACE(std::string(quant::traits(type).name) + " n_in=" + std::to_string(n_in) +
                       " n_out=" + std::to_string(n_out) + " n_tok=" + std::to_string(n_tok));
          uint64_t row_bytes = 0;
          // Converted weights at an odd address (mapped rows need no alignment); F32 rows are
          // read in place by sgemm, and GGUF aligns tensor data.
          const size_t offset = type == GgmlType::kF32 ? 0 : 1;
          const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, 5, offset, &row_bytes);
          const WeightView w{type, n_in, n_out, buf.data() + offset, row_bytes};
          const std::vector<float> x = random_activations(n_in * n_tok, 9);
          std::vector<float> y(static_cast<size_t>(n_out * n_tok), NAN);
          blocked_matmul(w, x.data(), n_tok, y.data(), pool);
          std::vector<float> twin(y.size());
          matmul_ref(w, x.data(), n_tok, twin.data());
          std::vector<float> row(static_cast<size_t>(n_in));
          for (int64_t o = 0; o < n_out; ++o) {
            quant::dequantize_row_ref(type, w.data + o * row_bytes, row.data(), n_in);
            for (int64_t t = 0; t < n_tok; ++t) {
              double exact = 0, mag = 0;
              for (int64_t i = 0; i < n_in; ++i) {
                exact += static_cast<double>(row[i]) * x[t * n_in + i];
                mag += std::fabs(static_cast<double>(row[i]) * x[t * n_in + i]);
              }
              const float got = y[t * n_out + o];
              // Rounding the activations to Q8_0 moves each by at most half a code (< 1 %),
              // so 2 M bounds the magnitude of the rounded products too.
              ASSERT_NEAR(got, twin[t * n_out + o], 4 * tolerance(n_in, mag))
                  << "row " << o << " token " << t;
              if (is_float(type)) {
                ASSERT_NEAR(got, exact, tolerance(n_in, mag)) << "row " << o << " token " << t;
              }
            }
          }
        }
      }
    }
  }
}

TEST(BlockedGemm, BelowTheThresholdIsMatmulExactly) {
  ThreadPool pool(2);
  const int64_t n_in = 256, n_out = 70, n_tok = kBlockedMinRows - 1;
  uint64_t row_bytes = 0;
  const std::vector<uint8_t> buf = random_rows(GgmlType::kQ8_0, n_in, n_out, 2, 0, &row_bytes);
  const WeightView w{GgmlType::kQ8_0, n_in, n_out, buf.data(), row_bytes};
  EXPECT_FALSE(blocked_applies(w, n_tok));
  EXPECT_TRUE(blocked_applies(w, n_tok + 1));
  const std::vector<float> x = random_activations(n_in * n_tok, 4);
  std::vector<float> a(static_cast<size_t>(n_out * n_tok)), b(a.size());
  blocked_matmul(w, x.data(), n_tok, a.data(), pool);
  matmul(w, x.data(), n_tok, b.data(), pool);
  EXPECT_EQ(a, b);
}

// Tiles are fixed by the weight's shape, so the thread count changes no output bit (the audio
// encoder promises identical output on 1 and 2 threads).
TEST(BlockedGemm, OutputDoesNotDependOnTheThreadCount) {
  ThreadPool one(1);
  ThreadPool two(2);
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0}) {
    SCOPED_TRACE(quant::traits(type).name);
    const int64_t n_in = 320, n_out = 200, n_tok = 90;
    uint64_t row_bytes = 0;
    const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, 8, 0, &row_bytes);
    const WeightView w{type, n_in, n_out, buf.data(), row_bytes};
    const std::vector<float> x = random_activations(n_in * n_tok, 6);
    std::vector<float> a(static_cast<size_t>(n_out * n_tok)), b(a.size());
    blocked_matmul(w, x.data(), n_tok, a.data(), one);
    blocked_matmul(w, x.data(), n_tok, b.data(), two);
    EXPECT_EQ(a, b);
  }
}

// The real shapes: tiles within 2 MB of f32, a multiple of 16 rows, a multiple of 4 of them.
TEST(BlockedGemm, TileRowsAtTheEncoderShapes) {
  EXPECT_EQ(blocked_tile_rows(1024, 4096), 512);  // audio FFN up: 8 tiles of 2 MB
  EXPECT_EQ(blocked_tile_rows(1024, 1024), 256);  // audio attention: 4 tiles
  EXPECT_EQ(blocked_tile_rows(4096, 1024), 128);  // audio FFN down: 8 tiles of 2 MB
  EXPECT_EQ(blocked_tile_rows(768, 3072), 384);   // vision FFN gate/up: 8 tiles
  EXPECT_EQ(blocked_tile_rows(3072, 768), 96);    // vision FFN down: 8 tiles
  EXPECT_EQ(blocked_tile_rows(768, 1), 16);
  for (int64_t n_in : {32, 768, 4096, 1 << 20}) {
    for (int64_t n_out = 1; n_out < 5000; n_out += 37) {
      const int64_t t = blocked_tile_rows(n_in, n_out);
      ASSERT_EQ(t % 16, 0);
      ASSERT_TRUE(t * 4 * n_in <= kBlockedTileBytes || t == 16) << n_in << " " << n_out;
    }
  }
}

// gemm_rows with leading dimensions wider than the operands (column slices, as the vision
// attention reads one head of q, k and v), both B layouts, against a double loop; cells
// outside the C slice stay untouched.
TEST(BlockedGemm, GemmRowsHonoursLeadingDimensionsAndTransposes) {
  ThreadPool pool(2);
  const int64_t m = 150, n = 37, k = 72, lda = 100, ldb = 90, ldc = 50;
  for (const bool trans : {true, false}) {
    SCOPED_TRACE(trans ? "B transposed" : "B as is");
    const int64_t b_rows = trans ? n : k;
    const std::vector<float> a = random_activations(m * lda, 1);
    const std::vector<float> b = random_activations(b_rows * ldb, 2);
    std::vector<float> c(static_cast<size_t>(m * ldc), -7.0f);
    gemm_rows(trans, m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc, pool);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < ldc; ++j) {
        if (j >= n) {
          ASSERT_EQ(c[i * ldc + j], -7.0f);
          continue;
        }
        double exact = 0, mag = 0;
        for (int64_t l = 0; l < k; ++l) {
          const double p =
              static_cast<double>(a[i * lda + l]) * (trans ? b[j * ldb + l] : b[l * ldb + j]);
          exact += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(c[i * ldc + j], exact, tolerance(k, mag)) << i << "," << j;
      }
    }
  }
}

TEST(BlockedGemm, EmptyInnerDimensionGivesZeros) {
  ThreadPool pool(2);
  std::vector<float> c(6, 3.0f);
  const float none = 0.0f;
  gemm_rows(true, 2, 3, 0, &none, 1, &none, 1, c.data(), 3, pool);
  EXPECT_EQ(c, std::vector<float>(6, 0.0f));
}

}  // namespace
}  // namespace gemmad::kernels
