// Activation quantiser (act_q8.h), AArch64 NEON: bit-identical to quantize_act_q8_ref
// (vmaxnm ignores NaN like std::fmax; vcvtn rounds half to even like nearbyint).
#include <arm_neon.h>

#include "kernels/act_q8.h"

namespace gemmad::kernels {

void quantize_act_q8_neon(const float* x, int64_t n, int32_t offset, bool split,
                          const ActQ8Row& out) {
  const int64_t nb = n / kQ8Block;
  const int64_t quad_end = nb / kQuadBlocks * kQuadBlocks;
  const float32x4_t lo_clamp = vdupq_n_f32(-127.0f);
  const float32x4_t hi_clamp = vdupq_n_f32(127.0f);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQ8Block;
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(xb + 4 * k);
      m = vmaxnmq_f32(m, vabsq_f32(v[k]));
    }
    float inv = 0.0f;
    act_q8_block_scales(vmaxnmvq_f32(m), &out.d[b], &inv);
    int8_t q[kQ8Block];
    for (int k = 0; k < 8; k += 2) {
      const float32x4_t s0 = vminnmq_f32(vmaxnmq_f32(vmulq_n_f32(v[k], inv), lo_clamp), hi_clamp);
      const float32x4_t s1 =
          vminnmq_f32(vmaxnmq_f32(vmulq_n_f32(v[k + 1], inv), lo_clamp), hi_clamp);
      const int16x8_t i16 =
          vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(s0)), vqmovn_s32(vcvtnq_s32_f32(s1)));
      vst1_s8(q + 4 * k, vqmovn_s16(i16));
    }
    int8_t* dst_lo = b < quad_end ? out.qs + (b / 4) * 128 + (b % 4) * 16 : out.qs + b * 32;
    int8_t* dst_hi = b < quad_end ? dst_lo + 64 : dst_lo + 16;
    vst1q_s8(dst_lo, vld1q_s8(q));
    vst1q_s8(dst_hi, vld1q_s8(q + 16));
    int32_t sum = 0;
    for (int l = 0; l < kLanesPerBlock; ++l) {
      const int32_t lo = q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3];
      const int32_t hi = q[16 + 4 * l] + q[17 + 4 * l] + q[18 + 4 * l] + q[19 + 4 * l];
      out.dl[b * kLanesPerBlock + l] = out.d[b];
      out.bias[b * kLanesPerBlock + l] = -offset * (split ? lo : lo + hi);
      out.bias2[b * kLanesPerBlock + l] = split ? -offset * hi : 0;
      sum += lo + hi;
    }
    out.ds[b] = out.d[b] * static_cast<float>(sum);
  }
}

}  // namespace gemmad::kernels
