// Q4_0 x Q8_0 dot, AArch64 NEON (baseline ARMv8-A: no dotprod needed). Codes become signed
// (c - 8) in registers, so no zero point goes through ActQ8::bias (act_offset 0); the exact
// block sum comes from widening multiplies (|(c - 8) q| <= 1016 fits int16) and pairwise
// accumulation into four int32 lanes, then acc += f32(lanes) * (dw * da).
#include <arm_neon.h>

#include <cstring>

#include "kernels/dot_q4_0.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;

inline int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t x) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
  return vpadalq_s16(acc, vmull_high_s8(w, x));
}

template <int T>
void row_tokens(const uint8_t* row, const ActQ8& a, int64_t t0, float* y, int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quad_end = nb / kQuadBlocks * kQuadBlocks;
  float32x4_t acc[T];
  for (int t = 0; t < T; ++t)
    acc[t] = vdupq_n_f32(0.0f);
  const uint8x16_t nibble = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t b = 0; b < quad_end; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    __fp16 dh;
    std::memcpy(&dh, p, sizeof dh);
    const float dw = static_cast<float>(dh);
    const uint8x16_t qs = vld1q_u8(p + 2);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(qs, nibble)), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(qs, 4)), eight);
    const int64_t off = (b / 4) * 128 + (b % 4) * 16;  // quad layout (act_q8.h)
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* x = a.qs + (t0 + t) * a.n_in + off;
      int32x4_t s = dot16(vdupq_n_s32(0), lo, vld1q_s8(x));
      s = dot16(s, hi, vld1q_s8(x + 64));
      acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(s), dw * a.d[(t0 + t) * nb + b]);
    }
  }
  for (int t = 0; t < T; ++t) {
    float sum = vaddvq_f32(acc[t]);
    if (quad_end < nb) sum += dot_q4_0_ref_blocks(row, a, t0 + t, quad_end, nb);
    y[(t0 + t) * ldy] = sum;
  }
}

}  // namespace

void dot_q4_0_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
