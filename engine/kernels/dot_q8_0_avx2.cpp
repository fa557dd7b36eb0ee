// Q8_0 x Q8_0 dot, AVX2 + FMA + F16C. Both operands are signed, which maddubs cannot take
// without saturating (|w| <= 128, |q| <= 127), so codes are widened to 16 bits and multiplied
// with madd: exact for every byte value. No zero point (act_offset 0). Q8_0 matrices are rare
// in Gemma files, so this favours simplicity over the last bit of speed.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q8_0.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 34;

inline __m256i widen(const void* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int T>
void row_tokens(const uint8_t* row, const ActQ8& a, int64_t t0, float* y, int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quad_end = nb / kQuadBlocks * kQuadBlocks;
  __m256 acc[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
    acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    uint16_t h;
    std::memcpy(&h, p, sizeof h);
    const float dw = _cvtsh_ss(h);
    const __m256i w_lo = widen(p + 2);
    const __m256i w_hi = widen(p + 18);
    // Where block b's halves sit in ActQ8::qs (act_q8.h layout).
    const int64_t lo_off = b < quad_end ? (b / 4) * 128 + (b % 4) * 16 : b * 32;
    const int64_t hi_off = lo_off + (b < quad_end ? 64 : 16);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* x = a.qs + (t0 + t) * a.n_in;
      const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(w_lo, widen(x + lo_off)),
                                         _mm256_madd_epi16(w_hi, widen(x + hi_off)));
      const float da = a.d[(t0 + t) * nb + b];
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * da), acc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = hsum256(acc[t]);
}

}  // namespace

void dot_q8_0_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
