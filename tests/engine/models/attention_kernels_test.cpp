// The attention dot kernels of every kernel set (kernels/kv_rows.h KvScoreFn /
// KvAccumulateFn) against their portable twins in ops/attention.cpp, at head sizes from one
// lane to E2B's 512 with tails; and the invariances batch/step identity rests on: a key's
// score does not depend on how many keys share the call, nor a column's sum on the columns
// beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "ops/attention.h"

namespace gemmad::ops {
namespace {

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v)
    x = g(rng);
  return v;
}

struct Set {
  kernels::KernelSet set;
  kernels::KvScoreFn score;
  kernels::KvAccumulateFn accumulate;
};

// Every set the CPU has, with the portable twin standing in where a set has no fast path.
std::vector<Set> sets() {
  std::vector<Set> out;
  for (kernels::KernelSet s : kernels::usable_kernel_sets()) {
    const kernels::KvKernels& k = kernels::kernel_table(s).kv;
    out.push_back({s, k.score ? k.score : score_keys_portable,
                   k.accumulate ? k.accumulate : accumulate_rows_portable});
  }
  return out;
}

TEST(AttentionKernels, ScoresMatchThePortableTwinAndDoNotDependOnTheKeyCount) {
  for (const Set& s : sets()) {
    SCOPED_TRACE(kernels::kernel_set_name(s.set));
    for (int hd : {1, 7, 8, 16, 33, 64, 256, 512}) {
      const int nh = 3, m = 13;
      const auto q = randn(size_t(nh) * hd, 1), k = randn(size_t(m) * hd, 2);
      std::vector<float> want(size_t(nh) * m), got(want.size()), one(want.size());
      std::vector<float> mx_w(nh, -INFINITY), mx_g(nh, -INFINITY), mx_1(nh, -INFINITY);
      score_keys_portable(q.data(), nh, hd, k.data(), m, 0.5f, want.data(), m, mx_w.data());
      s.score(q.data(), nh, hd, k.data(), m, 0.5f, got.data(), m, mx_g.data());
      for (int b = 0; b < m; ++b)  // one key per call
        s.score(q.data(), nh, hd, k.data() + b * hd, 1, 0.5f, one.data() + b, m, mx_1.data());
      for (size_t i = 0; i < want.size(); ++i) {
        // Both sum hd products of N(0,1) values in f32, in different orders (FMA or not):
        // the difference is a few ulp of the sum of |products|, bounded by hd * 1e-6.
        EXPECT_NEAR(got[i], want[i], 1e-6 * hd + 1e-6) << "hd " << hd << " at " << i;
        EXPECT_EQ(std::memcmp(&got[i], &one[i], sizeof(float)), 0) << "hd " << hd << " at " << i;
      }
      for (int h = 0; h < nh; ++h)
        EXPECT_EQ(mx_g[h], mx_1[h]);
    }
  }
}

TEST(AttentionKernels, AccumulationMatchesThePortableTwinAndDoesNotDependOnTheColumns) {
  for (const Set& s : sets()) {
    SCOPED_TRACE(kernels::kernel_set_name(s.set));
    for (int n : {1, 5, 8, 16, 24, 48, 64, 100, 512}) {
      const int nb = 11;
      const auto p = randn(nb, 3), v = randn(size_t(nb) * n, 4);
      std::vector<float> want(n, 0.25f), got(n, 0.25f), split(n, 0.25f);
      accumulate_rows_portable(p.data(), v.data(), nb, n, want.data());
      s.accumulate(p.data(), v.data(), nb, n, got.data());
      // Columns [0, c) and [c, n) in separate calls (as the decode split does), with rows of
      // the same stride: copy each part into its own contiguous block first.
      const int c = (n / 2) / 16 * 16;
      for (auto [c0, c1] : {std::pair{0, c}, std::pair{c, n}}) {
        const int w = c1 - c0;
        if (w == 0) continue;
        std::vector<float> part(size_t(nb) * w);
        for (int b = 0; b < nb; ++b)
          std::memcpy(part.data() + b * w, v.data() + b * n + c0, sizeof(float) * w);
        s.accumulate(p.data(), part.data(), nb, w, split.data() + c0);
      }
      for (int i = 0; i < n; ++i) {
        EXPECT_NEAR(got[i], want[i], 1e-5) << "n " << n << " at " << i;
        EXPECT_EQ(std::memcmp(&got[i], &split[i], sizeof(float)), 0) << "n " << n << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace gemmad::ops
