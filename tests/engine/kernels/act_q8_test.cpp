// The activation quantiser (act_q8.h): the definition (codes, scales, lane sums, layout) and
// every kernel set's quantiser bit-identical to the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/fp16.h"
#include "kernel_test_util.h"
#include "kernels/act_q8.h"
#include "kernels/kernel_table.h"

namespace gemmad::kernels {
namespace {

struct Quantized {
  ActQ8Buffer buf;
  ActQ8 view() const { return buf.view(); }
};

void quantize(QuantizeActFn fn, const std::vector<float>& x, int32_t offset, bool split,
              ActQ8Buffer* buf) {
  const auto n = static_cast<int64_t>(x.size());
  buf->reserve(n, 1);
  fn(x.data(), n, offset, split,
     ActQ8Row{buf->qs(0), buf->d(0), buf->ds(0), buf->dl(0), buf->bias(0), buf->bias2(0)});
}

// Inputs that exercise the rounding: random values, exact halves (ties), an all-zero block, a
// block whose scale overflows fp16, a block with one NaN (codes unspecified, but the set must
// still agree with the reference for finite lanes is not required, so NaN is kept out here).
std::vector<float> tricky_input(int64_t n) {
  std::vector<float> x = testing::random_activations(n, 42);
  for (int i = 0; i < 32 && i < n; ++i)
    x[i] = 0.0f;  // block 0: all zero
  if (n >= 64) {
    // Block 1: amax 127 so d = 1 and x * (1/d) hits exact .5 ties.
    for (int i = 0; i < 32; ++i)
      x[32 + i] = static_cast<float>(i - 16) + 0.5f;
    x[32] = 127.0f;
  }
  if (n >= 96) {
    for (int i = 0; i < 32; ++i)
      x[64 + i] = 1.0e7f * static_cast<float>(i % 5 - 2);
  }
  return x;
}

TEST(ActQ8, CodesAndScalesFollowTheDefinition) {
  const std::vector<float> x = tricky_input(32 * 9);  // 2 quads + 1 tail block
  ActQ8Buffer buf;
  quantize(quantize_act_q8_ref, x, 8, false, &buf);
  const ActQ8 a = buf.view();
  for (int64_t b = 0; b < 9; ++b) {
    SCOPED_TRACE(b);
    float amax = 0;
    for (int i = 0; i < 32; ++i)
      amax = std::fmax(amax, std::fabs(x[b * 32 + i]));
    const float d = amax / 127.0f;
    const float d16 = fp16_to_fp32(fp32_to_fp16(d));
    EXPECT_EQ(a.d[b], std::isinf(d16) ? d : d16);
    int8_t q[32];
    act_q8_block(a, 0, b, q);
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const float inv = d != 0 ? 1.0f / d : 0.0f;
      EXPECT_EQ(q[i], static_cast<int8_t>(std::nearbyint(x[b * 32 + i] * inv))) << i;
      sum += q[i];
    }
    EXPECT_EQ(a.ds[b], a.d[b] * static_cast<float>(sum));
    for (int l = 0; l < 4; ++l) {
      const int lo = q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3];
      const int hi = q[16 + 4 * l] + q[17 + 4 * l] + q[18 + 4 * l] + q[19 + 4 * l];
      EXPECT_EQ(a.bias[4 * b + l], -8 * (lo + hi));
      EXPECT_EQ(a.dl[4 * b + l], a.d[b]);
    }
  }
  // Ties round to even: block 1 has d = 1, so 0.5 -> 0, 1.5 -> 2, -0.5 -> -0, -1.5 -> -2.
  int8_t q1[32];
  act_q8_block(a, 0, 1, q1);
  EXPECT_EQ(a.d[1], 1.0f);
  EXPECT_EQ(q1[16], 0);   // 0.5
  EXPECT_EQ(q1[17], 2);   // 1.5
  EXPECT_EQ(q1[15], 0);   // -0.5
  EXPECT_EQ(q1[14], -2);  // -1.5
  // Block 2's scale (1e7 * 2 / 127) overflows fp16: the f32 scale is kept.
  EXPECT_FLOAT_EQ(a.d[2], 2.0e7f / 127.0f);
}

TEST(ActQ8, QuadsInterleaveHalvesAndTailsStayInOrder) {
  std::vector<float> x(32 * 5);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<float>(i % 32) - 15.0f;
  x[31] = 127.0f;  // d = 1 in every block: codes equal the values
  for (int b = 1; b < 5; ++b)
    x[b * 32 + 31] = 127.0f;
  ActQ8Buffer buf;
  quantize(quantize_act_q8_ref, x, 0, false, &buf);
  const int8_t* qs = buf.view().qs;
  // Quad 0: block j's elements 0..15 at 16 j, 16..31 at 64 + 16 j.
  EXPECT_EQ(qs[16 * 2 + 3], 3 - 15);
  EXPECT_EQ(qs[64 + 16 * 3 + 0], 16 - 15);
  // Block 4 is a tail block: natural order at 128.
  EXPECT_EQ(qs[128 + 20], 20 - 15);
}

TEST(ActQ8, SplitBiasKeepsTheHalvesApart) {
  const std::vector<float> x = testing::random_activations(256, 3);
  ActQ8Buffer buf;
  quantize(quantize_act_q8_ref, x, 32, true, &buf);
  const ActQ8 a = buf.view();
  for (int64_t b = 0; b < 8; ++b) {
    int8_t q[32];
    act_q8_block(a, 0, b, q);
    for (int l = 0; l < 4; ++l) {
      EXPECT_EQ(a.bias[4 * b + l], -32 * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]));
      EXPECT_EQ(a.bias2[4 * b + l],
                -32 * (q[16 + 4 * l] + q[17 + 4 * l] + q[18 + 4 * l] + q[19 + 4 * l]));
    }
  }
}

TEST(ActQ8, EveryKernelSetQuantisesBitIdentically) {
  for (KernelSet set : usable_kernel_sets()) {
    for (int64_t n : {32, 96, 128, 160, 1536, 12288}) {
      for (bool split : {false, true}) {
        SCOPED_TRACE(std::string(kernel_set_name(set)) + " n=" + std::to_string(n));
        const std::vector<float> x = tricky_input(n);
        ActQ8Buffer ref, fast;
        quantize(quantize_act_q8_ref, x, 32, split, &ref);
        quantize(kernel_table(set).quantize_act, x, 32, split, &fast);
        const ActQ8 r = ref.view();
        const ActQ8 f = fast.view();
        const int64_t nb = n / 32;
        EXPECT_EQ(0, std::memcmp(r.qs, f.qs, static_cast<size_t>(n)));
        EXPECT_EQ(0, std::memcmp(r.d, f.d, nb * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(r.ds, f.ds, nb * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(r.dl, f.dl, nb * 4 * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(r.bias, f.bias, nb * 4 * sizeof(int32_t)));
        EXPECT_EQ(0, std::memcmp(r.bias2, f.bias2, nb * 4 * sizeof(int32_t)));
      }
    }
  }
}

}  // namespace
}  // namespace gemmad::kernels
