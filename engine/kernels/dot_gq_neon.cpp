// NEON scaled-code dot kernels (dot_gq.h): 16 codes at a time made signed in registers
// (value = code - offset), multiplied by the int8 activations with vmull_s8 (|product| <=
// 128 * 128 fits int16) and pairwise-accumulated into int32 lanes: exact group sums.
#include <arm_neon.h>

#include "kernels/dot_gq.h"

namespace gemmad::kernels {
namespace {

template <int kBits>
int8x16_t values16(const uint8_t* row, int64_t i) {
  if constexpr (kBits == 8) {
    return vld1q_s8(reinterpret_cast<const int8_t*>(row + i));
  } else if constexpr (kBits == 4) {
    const uint8x8_t b = vld1_u8(row + i / 2);
    const uint8x8_t lo = vand_u8(b, vdup_n_u8(0x0F));
    const uint8x8_t hi = vshr_n_u8(b, 4);
    const uint8x16_t c = vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi));
    return vsubq_s8(vreinterpretq_s8_u8(c), vdupq_n_s8(8));
  } else {
    uint32_t raw;
    __builtin_memcpy(&raw, row + i / 4, sizeof raw);
    const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(raw));
    const uint8_t idx_v[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    const int8_t shift_v[16] = {0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6};
    const uint8x16_t rep = vqtbl1q_u8(bytes, vld1q_u8(idx_v));
    const uint8x16_t c = vandq_u8(vshlq_u8(rep, vld1q_s8(shift_v)), vdupq_n_u8(3));
    return vsubq_s8(vreinterpretq_s8_u8(c), vdupq_n_s8(2));
  }
}

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  const int64_t i0 = g * a.group;
  int32x4_t acc = vdupq_n_s32(0);
  for (int64_t i = 0; i < a.group; i += 16) {
    const int8x16_t k = values16<kBits>(row, i0 + i);
    const int8x16_t qv = vld1q_s8(q + i);
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(k), vget_low_s8(qv)));
    acc = vpadalq_s16(acc, vmull_high_s8(k, qv));
  }
  return vaddvq_s32(acc);
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(neon)

}  // namespace gemmad::kernels
