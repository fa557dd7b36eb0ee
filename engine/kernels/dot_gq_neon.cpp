// NEON scaled-code dot kernels (dot_gq.h): 16 bytes of codes at a time split into their bit
// fields, each multiplied with its plane of the phase-ordered activations (act_i8.h) by
// vmull_s8 (|product| <= 128 * 128 fits int16) and pairwise-accumulated into int32 lanes:
// exact group sums; the offset comes off through the code sum; tails use the reference.
#include <arm_neon.h>

#include "kernels/dot_gq.h"

namespace gemmad::kernels {
namespace {

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  int32x4_t acc = vdupq_n_s32(0);
  if constexpr (kBits == 8) {
    const int8_t* w = reinterpret_cast<const int8_t*>(row + g * a.group);
    for (int64_t i = 0; i < a.group; i += 16) {
      const int8x16_t k = vld1q_s8(w + i);
      const int8x16_t qv = vld1q_s8(q + i);
      acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(k), vget_low_s8(qv)));
      acc = vpadalq_s16(acc, vmull_high_s8(k, qv));
    }
    return vaddvq_s32(acc);
  } else {
    // Byte j of the group holds one code of each phase; phase p meets plane p (act_i8.h). The
    // unsigned codes (< 16) are valid int8; the offset comes off through the code sum.
    constexpr int kPhases = 8 / kBits;
    constexpr int32_t kOffset = 1 << (kBits - 1);
    const int64_t gb = a.group / kPhases;
    const uint8_t* b = row + g * gb;
    const uint8x16_t mask = vdupq_n_u8((1 << kBits) - 1);
    int64_t j = 0;
    for (; j + 16 <= gb; j += 16) {
      const uint8x16_t v = vld1q_u8(b + j);
      for (int p = 0; p < kPhases; ++p) {
        const int8x16_t c = vreinterpretq_s8_u8(
            vandq_u8(vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(-kBits * p))), mask));
        const int8x16_t qv = vld1q_s8(q + p * gb + j);
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(c), vget_low_s8(qv)));
        acc = vpadalq_s16(acc, vmull_high_s8(c, qv));
      }
    }
    int32_t s = vaddvq_s32(acc);
    if (j < gb) s += gq_packed_sum_ref(kBits, b, q, a.group, j, gb);
    return s - kOffset * a.sum[t * a.n_groups + g];
  }
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(neon)

}  // namespace gemmad::kernels
