// F32 / F16 / BF16 x f32 dots, AArch64 NEON: each 8-value chunk of a row is converted once and
// multiplied into up to 4 tokens; two accumulators per token (even / odd 4-value halves); the
// last partial chunk is copied into a zero-padded buffer (no overread).
#include <arm_neon.h>

#include <cstring>

#include "kernels/dot_float.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

struct LoadF32 {
  static constexpr int kBytes = 4;
  static void load(const uint8_t* p, float32x4_t* a, float32x4_t* b) {
    *a = vld1q_f32(reinterpret_cast<const float*>(p));
    *b = vld1q_f32(reinterpret_cast<const float*>(p) + 4);
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static void load(const uint8_t* p, float32x4_t* a, float32x4_t* b) {
    const float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(p));
    *a = vcvt_f32_f16(vget_low_f16(h));
    *b = vcvt_high_f32_f16(h);
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static void load(const uint8_t* p, float32x4_t* a, float32x4_t* b) {
    const uint16x8_t h = vreinterpretq_u16_u8(vld1q_u8(p));
    *a = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    *b = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
};

template <int T, typename L>
void row_tokens(const uint8_t* row, const float* x, int64_t n_in, int64_t t0, float* y,
                int64_t ldy) {
  float32x4_t acc0[T];
  float32x4_t acc1[T];
  for (int t = 0; t < T; ++t) {
    acc0[t] = vdupq_n_f32(0.0f);
    acc1[t] = vdupq_n_f32(0.0f);
  }
  auto chunk = [&](const uint8_t* wp, const float* const* xs) __attribute__((always_inline)) {
    float32x4_t wa, wb;
    L::load(wp, &wa, &wb);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      acc0[t] = vfmaq_f32(acc0[t], wa, vld1q_f32(xs[t]));
      acc1[t] = vfmaq_f32(acc1[t], wb, vld1q_f32(xs[t] + 4));
    }
  };
  const float* xs[T];
  int64_t i = 0;
  for (; i + 8 <= n_in; i += 8) {
    for (int t = 0; t < T; ++t)
      xs[t] = x + (t0 + t) * n_in + i;
    chunk(row + i * L::kBytes, xs);
  }
  if (i < n_in) {
    const int64_t n = n_in - i;
    uint8_t wbuf[8 * 4] = {};
    std::memcpy(wbuf, row + i * L::kBytes, static_cast<size_t>(n * L::kBytes));
    float xbuf[T][8] = {};
    for (int t = 0; t < T; ++t) {
      std::memcpy(xbuf[t], x + (t0 + t) * n_in + i, static_cast<size_t>(n) * sizeof(float));
      xs[t] = xbuf[t];
    }
    chunk(wbuf, xs);
  }
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = vaddvq_f32(vaddq_f32(acc0[t], acc1[t]));
}

template <typename L>
void dot_rows(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
              int64_t n_tok, float* y, int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok, L>(row, x, n_in, t0, yr, ldy);
            });
}

}  // namespace

void dot_f32_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                  int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF32>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_f16_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                  int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_bf16_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                   int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadBF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

}  // namespace gemmad::kernels
