// The AVX2 row x tokens loop of the Q4_0 kernel family: per quad of 4 activation blocks
// (act_q8.h), an Unpack gives four 32-byte vectors of unsigned weight codes facing the quad's
// first halves of blocks 0-1 and 2-3 (lo01, lo23) and second halves (hi01, hi23), and the f32
// scale of each lane for blocks 0-1 and 2-3; then per token and block pair
//   p = bias + madd(maddubs(lo, x_lo) + maddubs(hi, x_hi))   exact int32 lane sums
//   acc += f32(p) * (dw * dl)
// maddubs cannot saturate: codes <= 15 and |x| <= 127 give |sum of 4 products| <= 7620.
// Include only from files compiled with the AVX2 flags: internal linkage only.
#pragma once

#include "kernels/immintrin_wrap.h"

#include <cstdint>

#include "kernels/act_q8.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

struct QuadCodes2 {
  __m256i lo01, lo23, hi01, hi23;
  __m256 dw01, dw23;
};

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int T, typename Unpack>
void quad_row_tokens(const Unpack& unpack, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
                     int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* qs[T];
  const float* dl[T];
  const int32_t* bias[T];
  __m256 acc0[T];
  __m256 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nb * kLanesPerBlock;
    bias[t] = a.bias + (t0 + t) * nb * kLanesPerBlock;
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  auto pair = [&](__m256i lo, __m256i hi, __m256 dw, const int8_t* x_lo, const int32_t* bi,
                  const float* dli, __m256 acc) __attribute__((always_inline)) {
    const __m256i s16 =
        _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i*)x_lo)),
                         _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i*)(x_lo + 64))));
    const __m256i p =
        _mm256_add_epi32(_mm256_madd_epi16(s16, ones), _mm256_loadu_si256((const __m256i*)bi));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, _mm256_loadu_ps(dli)), acc);
  };
  for (int64_t g = 0; g < quads; ++g) {
    const QuadCodes2 c = unpack(row + g * Unpack::kQuadBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* x = qs[t] + g * 128;
      acc0[t] = pair(c.lo01, c.hi01, c.dw01, x, bias[t] + g * 16, dl[t] + g * 16, acc0[t]);
      acc1[t] =
          pair(c.lo23, c.hi23, c.dw23, x + 32, bias[t] + g * 16 + 8, dl[t] + g * 16 + 8, acc1[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    float sum = hsum256(_mm256_add_ps(acc0[t], acc1[t]));
    if (quads * kQuadBlocks < nb) sum += unpack.tail(row, a, t0 + t, quads * kQuadBlocks, nb);
    y[(t0 + t) * ldy] = sum;
  }
}

template <typename Unpack>
void quad_dot(const Unpack& unpack, const uint8_t* w, uint64_t row_bytes, int64_t n_rows,
              const ActQ8& a, float* y, int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              quad_row_tokens<tok>(unpack, row, a, t0, yr, ldy);
            });
}

}  // namespace
}  // namespace gemmad::kernels
