// The shared ops against plain double-precision formulas: f16 widening, RMSNorm, RoPE
// (including proportional pairs), GELU, and attention over several runs of K/V.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/fp16.h"
#include "ops/attention.h"
#include "ops/gelu.h"
#include "ops/rms_norm.h"
#include "ops/rope.h"

namespace gemmad::ops {
namespace {

float pseudo(int i) {
  return std::sin(0.7f * i + 0.3f) * (1.0f + 0.1f * (i % 7));
}

TEST(Ops, F16WideningIsExactForEveryBitPattern) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i)
    all[i] = static_cast<uint16_t>(i);
  std::vector<float> out(all.size());
  f16_to_f32_row(all.data(), out.data(), static_cast<int64_t>(all.size()));
  for (uint32_t i = 0; i < all.size(); ++i) {
    const float want = fp16_to_fp32(all[i]);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(out[i])) << i;
    } else {
      EXPECT_EQ(fp32_to_bits(out[i]), fp32_to_bits(want)) << i;
    }
  }
}

TEST(Ops, RmsNormMatchesTheFormula) {
  const int n = 77;  // not a multiple of the 8 lanes
  std::vector<float> x(n), w(n), y(n), y_none(n);
  for (int i = 0; i < n; ++i) {
    x[i] = pseudo(i) * 3.0f;
    w[i] = 0.5f + 0.01f * i;
  }
  rms_norm(x.data(), w.data(), y.data(), n, 1e-6f);
  rms_norm(x.data(), nullptr, y_none.data(), n, 1e-6f);
  double ss = 0.0;
  for (float v : x)
    ss += double(v) * v;
  const double s = 1.0 / std::sqrt(ss / n + 1e-6);
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(y[i], x[i] * s * w[i], 1e-5);
    EXPECT_NEAR(y_none[i], x[i] * s, 1e-5);
  }
}

TEST(Ops, RopeRotatesNeoxPairsByPositionTimesFrequency) {
  const int hd = 16, n_rot = 16, pos = 5;
  RopeTable t(n_rot, 10000.0f, {});
  ASSERT_EQ(t.n_pairs_active(), 8);
  std::vector<float> c(8), s(8), x(2 * hd), orig;
  t.angles(pos, c.data(), s.data());
  for (int i = 0; i < 2 * hd; ++i)
    x[i] = pseudo(i);
  orig = x;
  rope_neox(x.data(), 2, hd, n_rot, t.n_pairs_active(), c.data(), s.data());
  for (int h = 0; h < 2; ++h) {
    for (int j = 0; j < 8; ++j) {
      const double th = pos * std::pow(10000.0, -2.0 * j / n_rot);
      const double a = orig[h * hd + j], b = orig[h * hd + j + 8];
      EXPECT_NEAR(x[h * hd + j], a * std::cos(th) - b * std::sin(th), 1e-5);
      EXPECT_NEAR(x[h * hd + j + 8], b * std::cos(th) + a * std::sin(th), 1e-5);
    }
  }
}

TEST(Ops, ProportionalRopeLeavesMaskedPairsAlone) {
  // Gemma 4 full layers: 512 dims, frequencies over 512, only the first quarter rotates.
  const int hd = 512, pairs = 256;
  std::vector<float> factors(pairs, 1e30f);
  for (int j = 0; j < 64; ++j)
    factors[j] = 1.0f;
  RopeTable t(hd, 1e6f, factors);
  ASSERT_EQ(t.n_pairs_active(), 64);
  std::vector<float> c(64), s(64), x(hd);
  t.angles(1000, c.data(), s.data());
  for (int i = 0; i < hd; ++i)
    x[i] = pseudo(i);
  const std::vector<float> orig = x;
  rope_neox(x.data(), 1, hd, hd, t.n_pairs_active(), c.data(), s.data());
  for (int j = 64; j < 256; ++j) {
    EXPECT_EQ(x[j], orig[j]);
    EXPECT_EQ(x[j + 256], orig[j + 256]);
  }
  const double th = 1000.0 * std::pow(1e6, -2.0 * 63 / 512);  // exponent over the full 512
  EXPECT_NEAR(x[63], orig[63] * std::cos(th) - orig[63 + 256] * std::sin(th), 1e-4);
}

TEST(Ops, GeluTanhMatchesTheFormula) {
  for (float z : {-6.0f, -1.5f, -0.1f, 0.0f, 0.3f, 1.0f, 4.0f}) {
    const double want =
        0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * double(z) * z * z)));
    EXPECT_NEAR(gelu_tanh(z), want, 1e-6);
  }
  float gate[3] = {1.0f, -1.0f, 2.0f}, up[3] = {2.0f, 3.0f, -1.0f}, out[3];
  geglu(gate, up, out, 3);
  for (int i = 0; i < 3; ++i)
    EXPECT_FLOAT_EQ(out[i], gelu_tanh(gate[i]) * up[i]);
}

TEST(Ops, VectorTanhAndSoftcapStayWithinAFewUlpOfLibm) {
  const int n = 20011;  // odd length: exercises the padded tail
  std::vector<float> x(n), t(n), c(n);
  for (int i = 0; i < n; ++i)
    x[i] = (i - n / 2) * (30.0f / n) + 1e-3f * pseudo(i);
  x[0] = 0.0f;
  x[1] = -1e-30f;
  x[2] = 200.0f;  // saturates
  t = x;
  tanh_inplace(t.data(), n);
  c = x;
  softcap_inplace(c.data() + 1, n - 1, 30.0f);  // an unaligned start
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(t[i], std::tanh(double(x[i])), 3e-7) << x[i];
    if (i > 0) {
      EXPECT_NEAR(c[i], 30.0 * std::tanh(double(x[i]) / 30.0), 30 * 3e-7) << x[i];
    }
  }
  EXPECT_EQ(t[0], 0.0f);
  EXPECT_EQ(t[2], 1.0f);
}

// Naive two-pass softmax attention in double over rows [n][stride] at offset.
std::vector<double> naive_attend(const std::vector<float>& q, int n_heads, int hd,
                                 const std::vector<float>& k, const std::vector<float>& v, int n,
                                 int stride, int offset, float scale) {
  std::vector<double> out(n_heads * hd, 0.0);
  for (int h = 0; h < n_heads; ++h) {
    std::vector<double> s(n);
    double mx = -1e300, sum = 0.0;
    for (int r = 0; r < n; ++r) {
      double acc = 0.0;
      for (int i = 0; i < hd; ++i)
        acc += double(q[h * hd + i]) * k[r * stride + offset + i];
      s[r] = acc * scale;
      mx = std::max(mx, s[r]);
    }
    for (double& x : s)
      sum += (x = std::exp(x - mx));
    for (int r = 0; r < n; ++r) {
      for (int i = 0; i < hd; ++i)
        out[h * hd + i] += s[r] / sum * v[r * stride + offset + i];
    }
  }
  return out;
}

TEST(Ops, AttentionOverSeveralRunsMatchesTwoPassSoftmax) {
  const int hd = 24, n_kv_heads = 2, stride = hd * n_kv_heads, n = 83, heads = 3;
  std::vector<float> k(n * stride), v(n * stride), q(heads * hd), out(heads * hd);
  for (int i = 0; i < n * stride; ++i) {
    k[i] = 2.0f * pseudo(i);
    v[i] = pseudo(3 * i + 1);
  }
  for (int i = 0; i < heads * hd; ++i)
    q[i] = pseudo(5 * i + 2);
  const std::vector<double> want = naive_attend(q, heads, hd, k, v, n, stride, hd, 0.7f);

  // f32 rows split into runs of 40 + 1 + 42 (blocks straddle runs).
  AttentionScratch scratch;
  AttentionArgs a;
  a.q = q.data();
  a.out = out.data();
  a.n_heads = heads;
  a.head_dim = hd;
  a.elem = KvElem::kF32;
  a.row_stride = stride;
  a.kv_offset = hd;  // second KV head
  a.scale = 0.7f;
  std::vector<KvSegment> segs = {{k.data(), v.data(), 40},
                                 {k.data() + 40 * stride, v.data() + 40 * stride, 1},
                                 {k.data() + 41 * stride, v.data() + 41 * stride, 42}};
  attend(a, segs, scratch);
  for (int i = 0; i < heads * hd; ++i)
    EXPECT_NEAR(out[i], want[i], 1e-5) << i;

  // The same in f16 rows: compare against the oracle on the rounded values.
  std::vector<uint16_t> k16(k.size()), v16(v.size());
  f32_to_f16_row(k.data(), k16.data(), static_cast<int64_t>(k.size()));
  f32_to_f16_row(v.data(), v16.data(), static_cast<int64_t>(v.size()));
  std::vector<float> kr(k.size()), vr(v.size());
  f16_to_f32_row(k16.data(), kr.data(), static_cast<int64_t>(k.size()));
  f16_to_f32_row(v16.data(), vr.data(), static_cast<int64_t>(v.size()));
  const std::vector<double> want16 = naive_attend(q, heads, hd, kr, vr, n, stride, hd, 0.7f);
  a.elem = KvElem::kF16;
  std::vector<KvSegment> segs16 = {{k16.data(), v16.data(), n}};
  attend(a, segs16, scratch);
  for (int i = 0; i < heads * hd; ++i)
    EXPECT_NEAR(out[i], want16[i], 1e-5) << i;
}

TEST(Ops, MultiQueryAttentionEqualsOneCallPerQueryExactly) {
  const int hd = 20, n = 70, heads = 2;  // head_dim not a multiple of 8: exercises tails
  std::vector<uint16_t> k(n * hd), v(n * hd);
  for (int i = 0; i < n * hd; ++i) {
    k[i] = fp32_to_fp16(pseudo(i));
    v[i] = fp32_to_fp16(pseudo(2 * i + 5));
  }
  const int nq = 3;
  std::vector<float> q(nq * heads * hd), out_multi(q.size()), out_one(q.size());
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = pseudo(7 * static_cast<int>(i) + 3);
  // A causal sliding window over positions 0..69: query j at position 40 + 13 j sees 24 keys.
  const std::vector<KvSegment> segs = {{k.data(), v.data(), 33},
                                       {k.data() + 33 * hd, v.data() + 33 * hd, n - 33}};
  std::vector<AttentionQuery> queries;
  for (int j = 0; j < nq; ++j) {
    const int p = 40 + 13 * j;
    queries.push_back(
        {q.data() + j * heads * hd, out_multi.data() + j * heads * hd, p - 23, p + 1});
  }
  AttentionArgs a;
  a.n_heads = heads;
  a.head_dim = hd;
  a.elem = KvElem::kF16;
  a.row_stride = hd;
  AttentionScratch scratch;
  attend_multi(a, segs, queries, scratch);
  for (int j = 0; j < nq; ++j) {
    // The same query alone, over exactly its own keys as one run.
    const int p = 40 + 13 * j;
    a.q = q.data() + j * heads * hd;
    a.out = out_one.data() + j * heads * hd;
    const std::vector<KvSegment> own = {{k.data() + (p - 23) * hd, v.data() + (p - 23) * hd, 24}};
    attend(a, own, scratch);
  }
  for (size_t i = 0; i < q.size(); ++i)
    EXPECT_EQ(out_multi[i], out_one[i]) << i;
}

TEST(Ops, AttentionOverOnePositionReturnsItsValue) {
  const int hd = 8;
  std::vector<float> q(hd, 1.0f), k(hd, 0.5f), v(hd), out(hd);
  for (int i = 0; i < hd; ++i)
    v[i] = static_cast<float>(i);
  AttentionScratch scratch;
  AttentionArgs a;
  a.q = q.data();
  a.out = out.data();
  a.head_dim = hd;
  a.elem = KvElem::kF32;
  a.row_stride = hd;
  std::vector<KvSegment> segs = {{k.data(), v.data(), 1}};
  attend(a, segs, scratch);
  for (int i = 0; i < hd; ++i)
    EXPECT_FLOAT_EQ(out[i], v[i]);
}

}  // namespace
}  // namespace gemmad::ops
