// Every kernel set's KV-row widening (kernels/kv_rows.h) against the scalar reference, bit for
// bit, at lengths 0, one block, block + tail (f16), large, and unaligned sources; and the
// reference against the layouts' definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/fp16.h"
#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/kv_rows.h"

namespace gemmad::kernels {
namespace {

// Random bytes (every code pattern) with fp16 block scales in +-[1e-3, 10] (no inf / NaN).
std::vector<uint8_t> random_blocks(int block_bytes, int64_t n_blocks, size_t offset,
                                   uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> mag(1e-3f, 10.0f);
  std::vector<uint8_t> buf(offset + static_cast<size_t>(block_bytes * n_blocks) + 1);
  for (auto& b : buf)
    b = static_cast<uint8_t>(rng());
  if (block_bytes != kKvBlock) {  // q8s has no scales
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint16_t h = fp32_to_fp16((rng() & 1) ? mag(rng) : -mag(rng));
      std::memcpy(buf.data() + offset + b * block_bytes, &h, 2);
    }
  }
  return buf;
}

std::vector<uint8_t> random_f16(int64_t n, size_t offset, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> buf(offset + 2 * static_cast<size_t>(n) + 1);
  for (auto& b : buf)
    b = static_cast<uint8_t>(rng());
  return buf;  // every half pattern, subnormals, inf and NaN included
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Bit-equal, except that a NaN matches any NaN: F16C and NEON quiet a signalling NaN, the
// reference keeps its payload (a KV cache never holds NaN from finite activations).
bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

TEST(KvRows, ReferenceFollowsTheLayouts) {
  // q8: d then codes; q4: element j low nibble, j + 16 high nibble, offset 8.
  uint8_t q8[kKvQ8BlockBytes], q4[kKvQ4BlockBytes];
  const uint16_t d = fp32_to_fp16(0.5f);
  std::memcpy(q8, &d, 2);
  std::memcpy(q4, &d, 2);
  for (int i = 0; i < 32; ++i)
    q8[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 16));
  for (int j = 0; j < 16; ++j)
    q4[2 + j] = static_cast<uint8_t>((j % 16) | (((15 - j) % 16) << 4));
  float out[32];
  widen_kv_q8_ref(q8, 32, 0.0f, out);
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(out[i], 0.5f * static_cast<float>(i - 16)) << i;
  widen_kv_q4_ref(q4, 32, 0.0f, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * static_cast<float>(j - 8)) << j;
    EXPECT_EQ(out[j + 16], 0.5f * static_cast<float>(7 - j)) << j;
  }
  const uint8_t s8[32] = {0x81, 0x7f, 0x00, 0xff};
  widen_kv_q8s_ref(s8, 32, 0.25f, out);
  EXPECT_EQ(out[0], -127 * 0.25f);
  EXPECT_EQ(out[1], 127 * 0.25f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_EQ(out[3], -0.25f);
}

TEST(KvRows, EverySetMatchesTheReferenceBitForBit) {
  const KvKernels& ref = kernel_table(KernelSet::kScalar).kv;
  for (KernelSet set : usable_kernel_sets()) {
    SCOPED_TRACE(kernel_set_name(set));
    const KvKernels& k = kernel_table(set).kv;
    for (int64_t n : {0, 32, 64, 256, 512, 4096}) {
      for (size_t offset : {0, 1, 3}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " offset=" + std::to_string(offset));
        const uint64_t seed = static_cast<uint64_t>(n) * 7 + offset;
        struct Case {
          KvWidenFn want, got;
          int block_bytes;
          float scale;
        };
        for (const Case& c :
             {Case{ref.q8, k.q8, kKvQ8BlockBytes, 0.0f}, Case{ref.q4, k.q4, kKvQ4BlockBytes, 0.0f},
              Case{ref.q8s, k.q8s, kKvBlock, 0.0123f}}) {
          const auto buf = random_blocks(c.block_bytes, n / kKvBlock, offset, seed);
          std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
          c.want(buf.data() + offset, n, c.scale, a.data());
          c.got(buf.data() + offset, n, c.scale, b.data());
          EXPECT_TRUE(same_bits(a, b)) << "block bytes " << c.block_bytes;
        }
      }
    }
    // f16 takes any length: tails of every size below a vector.
    for (int64_t n : {0, 1, 7, 8, 15, 16, 17, 31, 33, 100, 513}) {
      for (size_t offset : {0, 1}) {
        const auto buf = random_f16(n, offset, static_cast<uint64_t>(n) + 11 * offset);
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        ref.f16(buf.data() + offset, n, 0.0f, a.data());
        k.f16(buf.data() + offset, n, 0.0f, b.data());
        EXPECT_TRUE(same_values(a, b)) << "f16 n=" << n << " offset=" << offset;
      }
    }
  }
}

}  // namespace
}  // namespace gemmad::kernels
