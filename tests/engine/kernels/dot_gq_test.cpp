// Scaled-code kernels (dot_gq.h) and the int8 activation rules (act_i8.h): every kernel set
// the CPU has gives bit-identical results to the scalar reference (same exact int32 group
// sums, then the same f32 operations in the same order), and the reference equals an
// independent double-precision evaluation of sum_g w_scale * a_scale * sum(k * q).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/act_i8.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "quant/scaled_codes.h"

namespace gemmad::kernels {
namespace {

using quant::GgmlType;

struct Case {
  GgmlType type;
  int64_t n_in;
  int64_t group;  // n_in = per row
};

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<int8_t> k;  // [n_out][n_in]
  std::vector<float> scales;
  WeightView view;
};

// Random codes over the whole range (extremes included) and positive/negative scales.
Weights make_weights(const Case& c, int64_t n_out, uint64_t seed, size_t misalign) {
  std::mt19937_64 rng(seed);
  Weights w;
  const int32_t lo = quant::code_min(c.type), hi = quant::code_max(c.type);
  std::uniform_int_distribution<int32_t> code(lo, hi);
  std::uniform_real_distribution<float> mag(0.001f, 0.05f);
  w.k.resize(static_cast<size_t>(n_out * c.n_in));
  for (auto& v : w.k)
    v = static_cast<int8_t>(code(rng));
  w.k[0] = static_cast<int8_t>(lo);  // the most negative code (-128 for gq8) is exercised
  const uint64_t rb = c.n_in * quant::traits(c.type).code_bits / 8;
  w.bytes.assign(misalign + rb * n_out, 0);
  for (int64_t r = 0; r < n_out; ++r)
    quant::encode_codes(c.type, w.k.data() + r * c.n_in, w.bytes.data() + misalign + r * rb,
                        c.n_in);
  w.scales.resize(static_cast<size_t>(n_out * (c.n_in / c.group)));
  for (auto& s : w.scales)
    s = (rng() & 1) ? mag(rng) : -mag(rng);
  w.view = WeightView{c.type, c.n_in,          n_out,   w.bytes.data() + misalign,
                      rb,     w.scales.data(), c.group, 0.0f};
  return w;
}

std::vector<float> activations(int64_t n, int64_t n_tok, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * n_tok));
  for (auto& v : x)
    v = nd(rng);
  x[3] = 40.0f;  // an outlier: clipped by a static scale, sets a dynamic group's scale
  return x;
}

TEST(ActI8, StaticRuleRoundsHalfToEvenAndClamps) {
  const float x[32] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, 0.49f};
  int8_t q[32];
  float d = 0;
  int32_t sum = 0;
  quantize_act_i8(x, 32, 32, 1.0f, q, &d, &sum);
  EXPECT_EQ(d, 1.0f);
  const int8_t want[8] = {0, 2, 2, 0, -2, 127, -128, 0};
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(q[i], want[i]) << i;
  EXPECT_EQ(sum, 0 + 2 + 2 + 0 - 2 + 127 - 128 + 0);
}

TEST(ActI8, StaticRuleEqualsClampedNearbyintOverASweep) {
  // Every quarter step over [-300, 300] (ties included), huge values, infinities and NaN,
  // in phase order for gq2 and gq4 too.
  std::vector<float> x;
  for (int i = -1200; i <= 1200; ++i)
    x.push_back(static_cast<float>(i) * 0.25f);
  for (float v : {1e30f, -1e30f, INFINITY, -INFINITY, NAN, 127.5f, -128.5f, 0.5000001f})
    x.push_back(v);
  while (x.size() % 256 != 0)
    x.push_back(0.0f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<int8_t> q(x.size());
  std::vector<float> d(x.size() / 256);
  std::vector<int32_t> sum(d.size());
  quantize_act_i8(x.data(), n, 256, 1.0f, q.data(), d.data(), sum.data());
  auto want = [](float v) {
    return std::isnan(v)
               ? int8_t{-128}
               : static_cast<int8_t>(std::fmin(std::fmax(std::nearbyint(v), -128.f), 127.f));
  };
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(q[i], want(x[i])) << "x = " << x[i];
  for (int phases : {2, 4}) {
    std::vector<int8_t> p = q;
    act_i8_to_phases(p.data(), n, 256, phases);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(p[(i / 256) * 256 + act_i8_index(256, phases, i % 256)], q[i]) << i;
  }
}

TEST(ActI8, ZeroScaleMeansDynamicPerGroup) {
  std::vector<float> x(64, 0.0f);
  x[5] = 2.54f;    // group 0: d = 0.02
  x[40] = -1.27f;  // group 1: d = 0.01
  std::vector<int8_t> q(64);
  float d[2];
  int32_t sum[2];
  quantize_act_i8(x.data(), 64, 32, 0.0f, q.data(), d, sum);
  EXPECT_FLOAT_EQ(d[0], 2.54f / 127.0f);
  EXPECT_FLOAT_EQ(d[1], 1.27f / 127.0f);
  EXPECT_EQ(q[5], 127);
  EXPECT_EQ(q[40], -127);
  std::vector<float> zero(32, 0.0f);
  quantize_act_i8(zero.data(), 32, 32, 0.0f, q.data(), d, sum);
  EXPECT_EQ(d[0], 0.0f);  // all-zero group: codes 0, no division by zero
  EXPECT_EQ(q[0], 0);
}

TEST(ActI8, OutputFakeQuantClampsToInt8Steps) {
  float y[4] = {0.26f, -0.74f, 100.0f, -100.0f};
  fake_quant_i8(y, 4, 0.5f);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[1], -0.5f);
  EXPECT_FLOAT_EQ(y[2], 63.5f);
  EXPECT_FLOAT_EQ(y[3], -64.0f);
}

class DotGq : public ::testing::TestWithParam<Case> {};

TEST_P(DotGq, EveryKernelSetMatchesTheReferenceBitForBit) {
  const Case c = GetParam();
  for (float in_scale : {0.0f, 0.02f}) {
    for (int64_t n_tok : {1, 3, 17}) {
      const int64_t n_out = 13;
      Weights w = make_weights(c, n_out, 1234 + c.n_in, 1);
      w.view.in_scale = in_scale;
      const std::vector<float> x = activations(c.n_in, n_tok, 99);
      std::vector<float> ref(static_cast<size_t>(n_tok * n_out));
      matmul_ref(w.view, x.data(), n_tok, ref.data());
      // Independent check of the reference: double-precision sum of the same products.
      for (int64_t t = 0; t < n_tok; ++t) {
        std::vector<int8_t> q(static_cast<size_t>(c.n_in));
        std::vector<float> d(static_cast<size_t>(c.n_in / c.group));
        std::vector<int32_t> s(d.size());
        quantize_act_i8(x.data() + t * c.n_in, c.n_in, c.group, in_scale, q.data(), d.data(),
                        s.data());
        for (int64_t r = 0; r < n_out; ++r) {
          double acc = 0.0, mag = 0.0;
          for (int64_t i = 0; i < c.n_in; ++i) {
            const double term = double(w.k[r * c.n_in + i]) * q[i] *
                                w.scales[r * (c.n_in / c.group) + i / c.group] * d[i / c.group];
            acc += term;
            mag += std::fabs(term);
          }
          EXPECT_NEAR(ref[t * n_out + r], acc, 1e-5 * mag + 1e-30) << "row " << r;
        }
      }
      // The SIMD kernels take rows in tiles of 4: 13 rows are 3 tiles and 1 row left; the first
      // 6 and 7 rows leave a tile of 2 and of 3.
      ThreadPool pool(2);
      for (int64_t rows : {n_out, int64_t{6}, int64_t{7}}) {
        WeightView v = w.view;
        v.n_out = rows;
        std::vector<float> want(static_cast<size_t>(n_tok * rows));
        matmul_ref(v, x.data(), n_tok, want.data());
        for (int64_t t = 0; t < n_tok; ++t)
          for (int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(want[t * rows + r], ref[t * n_out + r]) << "row " << r << " of " << rows;
        for (KernelSet set : usable_kernel_sets()) {
          std::vector<float> y(want.size());
          matmul_with(set, v, x.data(), n_tok, y.data(), pool);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_EQ(y[i], want[i])
                << kernel_set_name(set) << " rows " << rows << " element " << i;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DotGq,
    ::testing::Values(Case{GgmlType::kGQ2, 32, 32}, Case{GgmlType::kGQ2, 96, 96},
                      Case{GgmlType::kGQ2, 1536, 256}, Case{GgmlType::kGQ4, 32, 32},
                      Case{GgmlType::kGQ4, 160, 160}, Case{GgmlType::kGQ4, 512, 32},
                      Case{GgmlType::kGQ4, 12288, 12288}, Case{GgmlType::kGQ8, 32, 32},
                      Case{GgmlType::kGQ8, 224, 224}, Case{GgmlType::kGQ8, 1536, 64}),
    [](const ::testing::TestParamInfo<Case>& i) {
      return std::string(quant::traits(i.param.type).name) + "_" + std::to_string(i.param.n_in) +
             "_g" + std::to_string(i.param.group);
    });

TEST(DequantizeWeightRow, AppliesTheRowsGroupScales) {
  const Case c{GgmlType::kGQ4, 64, 32};
  Weights w = make_weights(c, 3, 5, 0);
  std::vector<float> row(64);
  dequantize_weight_row(w.view, 2, row.data());
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(row[i], float(w.k[2 * 64 + i]) * w.scales[2 * 2 + i / 32]);
}

}  // namespace
}  // namespace gemmad::kernels
