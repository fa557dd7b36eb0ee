// KV cache rows widened to f32, AArch64 NEON (kv_rows.h): 8 lanes at a time; f16 tails go to
// the reference.
#include <arm_neon.h>

#include <cstring>

#include "kernels/kv_rows.h"

namespace gemmad::kernels {
namespace {

inline float load_scale(const uint8_t* p) {
  float16_t h;
  std::memcpy(&h, p, sizeof h);
  return static_cast<float>(h);
}

// 8 int8 codes, times d, into out[0..8).
inline void codes8(int8x8_t c, float32x4_t d, float* out) {
  const int16x8_t w = vmovl_s8(c);
  vst1q_f32(out, vmulq_f32(d, vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)))));
  vst1q_f32(out + 4, vmulq_f32(d, vcvtq_f32_s32(vmovl_high_s16(w))));
}

}  // namespace

void widen_kv_f16_neon(const uint8_t* src, int64_t n, float scale, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(src + 2 * i));
    vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
    vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
  }
  if (i < n) widen_kv_f16_ref(src + 2 * i, n - i, scale, dst + i);
}

void widen_kv_q8_neon(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ8BlockBytes;
    const float32x4_t d = vdupq_n_f32(load_scale(blk));
    for (int k = 0; k < 4; ++k)
      codes8(vld1_s8(reinterpret_cast<const int8_t*>(blk + 2 + 8 * k)), d,
             dst + b * kKvBlock + 8 * k);
  }
}

void widen_kv_q4_neon(const uint8_t* src, int64_t n, float, float* dst) {
  const uint8x16_t mask = vdupq_n_u8(0x0f);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ4BlockBytes;
    const float32x4_t d = vdupq_n_f32(load_scale(blk));
    const uint8x16_t raw = vld1q_u8(blk + 2);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, mask)), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
    float* o = dst + b * kKvBlock;
    codes8(vget_low_s8(lo), d, o);
    codes8(vget_high_s8(lo), d, o + 8);
    codes8(vget_low_s8(hi), d, o + 16);
    codes8(vget_high_s8(hi), d, o + 24);
  }
}

void widen_kv_q8s_neon(const uint8_t* src, int64_t n, float scale, float* dst) {
  const float32x4_t s = vdupq_n_f32(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    codes8(vld1_s8(reinterpret_cast<const int8_t*>(src + i)), s, dst + i);
  if (i < n) widen_kv_q8s_ref(src + i, n - i, scale, dst + i);
}

}  // namespace gemmad::kernels
