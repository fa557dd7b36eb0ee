// matmul(): every kernel set the CPU has against the scalar reference, for every weight type,
// at one block, several blocks, block counts that leave a tail, a large row, odd row counts and
// batches of 1, 3, 17 and 64 tokens, with unaligned weights and activations.
//
// Tolerance. Fast and reference kernels compute the same exact integer block sums (or the same
// f32 products for float weights) and differ only in how they round and associate the f32
// sum of the per-block (per-element) terms z_k. Each of the two sums carries an error of about
// u * sqrt(N) * sum|z_k| for N terms added (u = 2^-24; random-walk growth of rounding errors,
// partial sums bounded by sum|z_k|), plus a few roundings of each term's scale product. With
// M = sum_i |w_i| |x_i| >= sum|z_k| (w dequantised by the reference, x the activations the
// kernels multiply), we allow 8 u sqrt(N + 16) M: a real bug (a wrong code, scale or lane) moves
// the result by about one term, orders of magnitude more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {
namespace {

using quant::GgmlType;
using testing::dequantized_act;
using testing::random_activations;
using testing::random_rows;

constexpr double kU = 1.0 / (1 << 24);

const GgmlType kTypes[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                           GgmlType::kQ8_0, GgmlType::kQ2_0, GgmlType::kQ4_K, GgmlType::kQ6_K};

bool is_float(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

// Row lengths: one block, several, tails of the 4-block quads, and a large row.
std::vector<int64_t> lengths(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return {1, 7, 16, 33, 100, 12288};
    case GgmlType::kQ4_0:
    case GgmlType::kQ8_0:
      return {32, 96, 160, 512, 12288};
    case GgmlType::kQ2_0:
      return {64, 192, 320, 12288};
    default:
      return {256, 768, 12288};
  }
}

// Magnitude M (see the header) per output, and the term count N.
struct Bound {
  std::vector<double> m;  // [n_tok][n_out]
  double n_terms = 0;
};

// The activations each kernel multiplies: x itself for float weights, else x quantised by the
// reference quantiser (bit-identical in every set; act_q8_test.cpp) and dequantised.
std::vector<float> multiplied_acts(GgmlType type, const std::vector<float>& x, int64_t n_in,
                                   int64_t n_tok) {
  if (is_float(type)) return x;
  ActQ8Buffer buf;
  buf.reserve(n_in, n_tok);
  for (int64_t t = 0; t < n_tok; ++t) {
    quantize_act_q8_ref(
        x.data() + t * n_in, n_in, 0, false,
        ActQ8Row{buf.qs(t), buf.d(t), buf.ds(t), buf.dl(t), buf.bias(t), buf.bias2(t)});
  }
  std::vector<float> out;
  for (int64_t t = 0; t < n_tok; ++t) {
    const std::vector<float> row = dequantized_act(buf.view(), t);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// Per-element magnitude of a weight row: |w_i|, except for Q4_K whose value d sc q - dmin m
// can cancel; there we bound each element by |d| 63 * 15 + |dmin| 63.
std::vector<double> weight_magnitudes(GgmlType type, const uint8_t* row, int64_t n_in) {
  std::vector<float> w(static_cast<size_t>(n_in));
  quant::dequantize_row_ref(type, row, w.data(), n_in);
  std::vector<double> m(w.begin(), w.end());
  for (auto& v : m)
    v = std::fabs(v);
  if (type == GgmlType::kQ4_K) {
    for (int64_t b = 0; b < n_in / 256; ++b) {
      uint16_t d, dmin;
      std::memcpy(&d, row + b * 144, 2);
      std::memcpy(&dmin, row + b * 144 + 2, 2);
      const double bound =
          std::fabs(fp16_to_fp32(d)) * 63 * 15 + std::fabs(fp16_to_fp32(dmin)) * 63;
      for (int i = 0; i < 256; ++i)
        m[b * 256 + i] = bound;
    }
  }
  return m;
}

Bound bound(GgmlType type, const uint8_t* w, uint64_t row_bytes, const std::vector<float>& acts,
            int64_t n_in, int64_t n_out, int64_t n_tok) {
  Bound b;
  b.n_terms = is_float(type) ? static_cast<double>(n_in) : static_cast<double>(n_in / 32);
  b.m.assign(static_cast<size_t>(n_tok * n_out), 0.0);
  for (int64_t o = 0; o < n_out; ++o) {
    const std::vector<double> wm = weight_magnitudes(type, w + o * row_bytes, n_in);
    for (int64_t t = 0; t < n_tok; ++t) {
      double m = 0;
      for (int64_t i = 0; i < n_in; ++i)
        m += wm[i] * std::fabs(acts[t * n_in + i]);
      b.m[t * n_out + o] = m;
    }
  }
  return b;
}

double tolerance(const Bound& b, int64_t idx) {
  return 8.0 * kU * std::sqrt(b.n_terms + 16.0) * b.m[idx] + 1e-30;
}

std::string describe(KernelSet set, GgmlType type, int64_t n_in, int64_t n_out, int64_t n_tok) {
  return std::string(kernel_set_name(set)) + " " + std::string(quant::traits(type).name) +
         " n_in=" + std::to_string(n_in) + " n_out=" + std::to_string(n_out) +
         " n_tok=" + std::to_string(n_tok);
}

// Runs one shape through every usable set; weights at an odd address, activations not
// 64-byte aligned.
void check_shape(ThreadPool& pool, GgmlType type, int64_t n_in, int64_t n_out, int64_t n_tok,
                 uint64_t seed) {
  uint64_t row_bytes = 0;
  const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, seed, 1, &row_bytes);
  const WeightView w{type, n_in, n_out, buf.data() + 1, row_bytes};
  std::vector<float> xbuf = random_activations(n_in * n_tok + 1, seed + 1);
  const float* x = xbuf.data() + 1;
  const std::vector<float> xv(x, x + n_in * n_tok);
  const Bound b =
      bound(type, w.data, row_bytes, multiplied_acts(type, xv, n_in, n_tok), n_in, n_out, n_tok);

  std::vector<float> ref(static_cast<size_t>(n_out * n_tok));
  matmul_ref(w, x, n_tok, ref.data());
  for (KernelSet set : usable_kernel_sets()) {
    SCOPED_TRACE(describe(set, type, n_in, n_out, n_tok));
    std::vector<float> y(static_cast<size_t>(n_out * n_tok), NAN);
    matmul_with(set, w, x, n_tok, y.data(), pool);
    for (int64_t i = 0; i < n_out * n_tok; ++i) {
      ASSERT_NEAR(y[i], ref[i], tolerance(b, i)) << "output " << i;
    }
  }
}

class MatmulOfType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulOfType, EveryKernelSetMatchesTheReference) {
  const GgmlType type = GetParam();
  ThreadPool pool(2);
  uint64_t seed = 1;
  for (int64_t n_in : lengths(type)) {
    const bool large = n_in >= 4096;
    for (int64_t n_out : {1, 7, 33}) {
      for (int64_t n_tok : {1, 3, 17, 64}) {
        // Keep the scalar reference fast (the suite also runs under ASan).
        if ((large && n_out * n_tok > 64) || n_out * n_tok > 7 * 64) continue;
        check_shape(pool, type, n_in, n_out, n_tok, seed++);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulOfType, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<GgmlType>& param) {
                           return std::string(quant::traits(param.param).name);
                         });

// The scalar integer kernels against the definition of each format: sum_i w_i * (q_i * d_b) in
// double with w from quant::dequantize_row_ref and q, d from the activation quantiser.
TEST(Matmul, ReferenceIntegerKernelsMatchDequantisedWeights) {
  for (GgmlType type : kTypes) {
    if (is_float(type)) continue;
    for (int64_t n_in : lengths(type)) {
      const int64_t n_out = 5;
      const int64_t n_tok = 2;
      SCOPED_TRACE(describe(KernelSet::kScalar, type, n_in, n_out, n_tok));
      uint64_t row_bytes = 0;
      const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, 77 + n_in, 0, &row_bytes);
      const WeightView w{type, n_in, n_out, buf.data(), row_bytes};
      const std::vector<float> x = random_activations(n_in * n_tok, 5);
      const std::vector<float> acts = multiplied_acts(type, x, n_in, n_tok);
      const Bound b = bound(type, w.data, row_bytes, acts, n_in, n_out, n_tok);
      std::vector<float> y(static_cast<size_t>(n_out * n_tok));
      matmul_ref(w, x.data(), n_tok, y.data());
      std::vector<float> row(static_cast<size_t>(n_in));
      for (int64_t o = 0; o < n_out; ++o) {
        quant::dequantize_row_ref(type, w.data + o * row_bytes, row.data(), n_in);
        for (int64_t t = 0; t < n_tok; ++t) {
          double exact = 0;
          for (int64_t i = 0; i < n_in; ++i)
            exact += static_cast<double>(row[i]) * acts[t * n_in + i];
          EXPECT_NEAR(y[t * n_out + o], exact, tolerance(b, t * n_out + o));
        }
      }
    }
  }
}

double block_amax(const float* x) {
  double amax = 0;
  for (int i = 0; i < 32; ++i) {
    const double v = std::fabs(x[i]);
    if (v > amax) amax = v;
  }
  return amax;
}

// Against the unquantised activations the integer paths differ by the activation rounding:
// |x - q d| <= d / 2 + 127 |d - d_f16| <= d (0.5 + 127 * 2^-11) per element, so
// |y - W x| <= sum_i |w_i| 0.57 d_b(i) (+ the f32 tolerance).
TEST(Matmul, IntegerPathsDifferFromF32OnlyByActivationRounding) {
  ThreadPool pool(2);
  for (GgmlType type :
       {GgmlType::kQ4_0, GgmlType::kQ8_0, GgmlType::kQ2_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    const int64_t n_in = 1536;
    const int64_t n_out = 9;
    SCOPED_TRACE(quant::traits(type).name);
    uint64_t row_bytes = 0;
    const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, 99, 0, &row_bytes);
    const WeightView w{type, n_in, n_out, buf.data(), row_bytes};
    const std::vector<float> x = random_activations(n_in, 7);
    std::vector<float> y(n_out);
    matmul(w, x.data(), 1, y.data(), pool);
    std::vector<float> row(static_cast<size_t>(n_in));
    for (int64_t o = 0; o < n_out; ++o) {
      quant::dequantize_row_ref(type, w.data + o * row_bytes, row.data(), n_in);
      double exact = 0;
      double bound = 0;
      double mag = 0;
      for (int64_t b = 0; b < n_in / 32; ++b) {
        const double d = block_amax(x.data() + b * 32) / 127;
        for (int i = 0; i < 32; ++i) {
          const int64_t k = b * 32 + i;
          exact += static_cast<double>(row[k]) * x[k];
          bound += std::fabs(row[k]) * 0.57 * d;
          mag += std::fabs(row[k] * x[k]);
        }
      }
      EXPECT_NEAR(y[o], exact, bound + 8 * kU * std::sqrt(64.0) * mag * 4);
    }
  }
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// A token's output is the same bits whether it is computed alone on one thread or in a batch
// of 17 on two threads (kernel_table.h promises it; the scheduler relies on it). At n_in 16384
// matmul splits the 17 tokens into blocks of 8 (its L2 token blocking), so a token's tile
// differs between the batch and alone.
TEST(Matmul, ATokensOutputDoesNotDependOnItsBatchOrThreads) {
  ThreadPool one(1);
  ThreadPool two(2);
  for (KernelSet set : usable_kernel_sets()) {
    for (GgmlType type : kTypes) {
      for (const int64_t n_in : {int64_t{768}, int64_t{16384}}) {
        const int64_t n_out = 11;
        const int64_t n_tok = 17;
        SCOPED_TRACE(describe(set, type, n_in, n_out, n_tok));
        uint64_t row_bytes = 0;
        const std::vector<uint8_t> buf = random_rows(type, n_in, n_out, 3, 0, &row_bytes);
        const WeightView w{type, n_in, n_out, buf.data(), row_bytes};
        const std::vector<float> x = random_activations(n_in * n_tok, 11);
        std::vector<float> batch(static_cast<size_t>(n_out * n_tok));
        matmul_with(set, w, x.data(), n_tok, batch.data(), two);
        for (int64_t t = 0; t < n_tok; ++t) {
          std::vector<float> alone(n_out);
          matmul_with(set, w, x.data() + t * n_in, 1, alone.data(), one);
          for (int64_t o = 0; o < n_out; ++o) {
            ASSERT_EQ(bits(alone[o]), bits(batch[t * n_out + o])) << "token " << t << " row " << o;
          }
        }
      }
    }
  }
}

// The AVX-512 Q4_0 kernel (whole blocks per lane, 4 rows per register) follows the reference's
// f32 order exactly (dot_q4_0.h), so the two agree bit for bit: at lengths with and without
// tail blocks, row counts that leave a partial 4-row group, every token tile size, on 2 threads.
TEST(Matmul, Avx512Q4_0IsBitIdenticalToTheReference) {
  const std::vector<KernelSet> sets = usable_kernel_sets();
  if (std::find(sets.begin(), sets.end(), KernelSet::kAvx512) == sets.end()) {
    GTEST_SKIP() << "no AVX-512 on this CPU";
  }
  ThreadPool pool(2);
  uint64_t seed = 41;
  for (const int64_t n_in : {int64_t{32}, int64_t{96}, int64_t{128}, int64_t{160}, int64_t{256},
                             int64_t{1536}, int64_t{1568}}) {
    for (const int64_t n_out : {int64_t{1}, int64_t{3}, int64_t{5}, int64_t{9}, int64_t{70}}) {
      for (const int64_t n_tok : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{7}}) {
        SCOPED_TRACE(describe(KernelSet::kAvx512, GgmlType::kQ4_0, n_in, n_out, n_tok));
        uint64_t row_bytes = 0;
        const std::vector<uint8_t> buf =
            random_rows(GgmlType::kQ4_0, n_in, n_out, seed, 1, &row_bytes);
        const WeightView w{GgmlType::kQ4_0, n_in, n_out, buf.data() + 1, row_bytes};
        const std::vector<float> x = random_activations(n_in * n_tok, seed + 1);
        ++seed;
        std::vector<float> ref(static_cast<size_t>(n_out * n_tok));
        std::vector<float> y(static_cast<size_t>(n_out * n_tok), NAN);
        matmul_ref(w, x.data(), n_tok, ref.data());
        matmul_with(KernelSet::kAvx512, w, x.data(), n_tok, y.data(), pool);
        for (int64_t i = 0; i < n_out * n_tok; ++i) {
          ASSERT_EQ(bits(y[i]), bits(ref[i])) << "output " << i << ": " << y[i] << " vs " << ref[i];
        }
      }
    }
  }
}

TEST(Matmul, NoTokensOrNoRowsWritesNothing) {
  ThreadPool pool(2);
  uint64_t row_bytes = 0;
  const std::vector<uint8_t> buf = random_rows(GgmlType::kQ4_0, 64, 3, 1, 0, &row_bytes);
  const std::vector<float> x = random_activations(64, 1);
  float y[3] = {1.0f, 2.0f, 3.0f};
  matmul(WeightView{GgmlType::kQ4_0, 64, 3, buf.data(), row_bytes}, x.data(), 0, y, pool);
  matmul(WeightView{GgmlType::kQ4_0, 64, 0, buf.data(), row_bytes}, x.data(), 1, y, pool);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 2.0f);
  EXPECT_EQ(y[2], 3.0f);
}

}  // namespace
}  // namespace gemmad::kernels
