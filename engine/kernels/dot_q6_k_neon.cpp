// Q6_K x Q8_0 dot, AArch64 NEON (baseline ARMv8-A). Codes become signed (c - 32) in registers
// (no zero point through ActQ8::bias). Quarter k of half h is activation block 8b + 4h + k; its
// first / second 16 values are groups 8h + 2k / 8h + 2k + 1 with their own int8 scales:
//   lanes = sc_lo * isum_lo + sc_hi * isum_hi (exact int32), acc += f32(lanes) * (d * da).
#include <arm_neon.h>

#include <cstring>

#include "kernels/dot_q6_k.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 210;

inline int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t x) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  return vpadalq_s16(acc, vmull_high_s8(w, x));
}

// c - 32 from 4 low bits and 2 high bits (already at bits 4-5).
inline int8x16_t code(uint8x16_t low4, uint8x16_t high2) {
  return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low4, high2)), vdupq_n_s8(32));
}

template <int T>
void row_tokens(const uint8_t* row, const ActQ8& a, int64_t t0, float* y, int64_t ldy) {
  const int64_t nab = a.n_in / kQ8Block;
  const int64_t nb = a.n_in / 256;
  float32x4_t acc[T];
  for (int t = 0; t < T; ++t)
    acc[t] = vdupq_n_f32(0.0f);
  const uint8x16_t f = vdupq_n_u8(0x0F);
  const uint8x16_t m3 = vdupq_n_u8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    __fp16 dh;
    std::memcpy(&dh, p + 208, sizeof dh);
    const float dw = static_cast<float>(dh);
    const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = p + 64 * h;
      const uint8_t* qh = p + 128 + 32 * h;
      const uint8x16_t la = vld1q_u8(ql), lb = vld1q_u8(ql + 16);
      const uint8x16_t lc = vld1q_u8(ql + 32), ld = vld1q_u8(ql + 48);
      const uint8x16_t ha = vld1q_u8(qh), hb = vld1q_u8(qh + 16);
      // [quarter][part]: part 0 = values 0..15, part 1 = 16..31.
      const int8x16_t c[4][2] = {
          {code(vandq_u8(la, f), vandq_u8(vshlq_n_u8(ha, 4), m3)),
           code(vandq_u8(lb, f), vandq_u8(vshlq_n_u8(hb, 4), m3))},
          {code(vandq_u8(lc, f), vandq_u8(vshlq_n_u8(ha, 2), m3)),
           code(vandq_u8(ld, f), vandq_u8(vshlq_n_u8(hb, 2), m3))},
          {code(vshrq_n_u8(la, 4), vandq_u8(ha, m3)), code(vshrq_n_u8(lb, 4), vandq_u8(hb, m3))},
          {code(vshrq_n_u8(lc, 4), vandq_u8(vshrq_n_u8(ha, 2), m3)),
           code(vshrq_n_u8(ld, 4), vandq_u8(vshrq_n_u8(hb, 2), m3))},
      };
      const int64_t quad = (2 * b + h) * 128;
      for (int k = 0; k < 4; ++k) {
        const int32_t s_lo = sc[8 * h + 2 * k];
        const int32_t s_hi = sc[8 * h + 2 * k + 1];
        const int64_t ab = 8 * b + 4 * h + k;
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          const int8_t* x = a.qs + (t0 + t) * a.n_in + quad + 16 * k;
          const int32x4_t lo = dot16(vdupq_n_s32(0), c[k][0], vld1q_s8(x));
          const int32x4_t hi = dot16(vdupq_n_s32(0), c[k][1], vld1q_s8(x + 64));
          const int32x4_t lanes = vmlaq_n_s32(vmulq_n_s32(lo, s_lo), hi, s_hi);
          acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(lanes), dw * a.d[(t0 + t) * nab + ab]);
        }
      }
    }
  }
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = vaddvq_f32(acc[t]);
}

}  // namespace

void dot_q6_k_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
