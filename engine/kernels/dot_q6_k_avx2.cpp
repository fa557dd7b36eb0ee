// Q6_K x Q8_0 dot, AVX2 + FMA + F16C (numerics of dot_q6_k_ref.cpp / dot_q6_k_avx512.cpp).
// Half h of a block is one quad of activation blocks; quarter k of the half is activation block
// k. For values l = 0..15 (first halves; second halves use l + 16) the 6-bit codes are
//   quarters 0, 1: low nibbles of ql[l], ql[l + 32]; bits 0-1, 2-3 of qh[l] on top
//   quarters 2, 3: high nibbles of ql[l], ql[l + 32]; bits 4-5, 6-7 of qh[l] on top
// Each 32-byte vector faces the halves of activation blocks (0, 1) or (2, 3); first and second
// halves have separate int8 scales (groups 8h + 2k and 8h + 2k + 1), applied to the exact lane
// sums before conversion; ActQ8::bias / bias2 hold the -32 zero point of each part.
// maddubs cannot saturate: codes <= 63, |x| <= 127, pairs <= 16002.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q6_k.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 210;

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i join(__m128i a, __m128i b) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
}

// Codes of quarters (0, 1) and (2, 3) for the 16 values starting at l0 (0 or 16) of a half.
inline void quarter_codes(const uint8_t* ql, const uint8_t* qh, int l0, __m256i* q01,
                          __m256i* q23) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l0 + 32));
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l0));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  const __m256i ql01 = join(a, b);
  const __m256i h01 = join(_mm_slli_epi16(h, 4), _mm_slli_epi16(h, 2));
  const __m256i h23 = join(h, _mm_srli_epi16(h, 2));
  *q01 = _mm256_or_si256(_mm256_and_si256(ql01, low4), _mm256_and_si256(h01, bits45));
  *q23 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql01, 4), low4),
                         _mm256_and_si256(h23, bits45));
}

template <int T>
void row_tokens(const uint8_t* row, const ActQ8& a, int64_t t0, float* y, int64_t ldy) {
  const int64_t nab = a.n_in / kQ8Block;
  const int64_t nb = a.n_in / 256;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc0[T];
  __m256 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    uint16_t dh;
    std::memcpy(&dh, p + 208, sizeof dh);
    const __m256 dw = _mm256_set1_ps(_cvtsh_ss(dh));
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = p + 64 * h;
      const uint8_t* qh = p + 128 + 32 * h;
      __m256i lo01, lo23, hi01, hi23;
      quarter_codes(ql, qh, 0, &lo01, &lo23);
      quarter_codes(ql, qh, 16, &hi01, &hi23);
      const __m256i sc8 =
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 192 + 8 * h)));
      const __m256i sc_lo01 =
          _mm256_permutevar8x32_epi32(sc8, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
      const __m256i sc_hi01 =
          _mm256_permutevar8x32_epi32(sc8, _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3));
      const __m256i sc_lo23 =
          _mm256_permutevar8x32_epi32(sc8, _mm256_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6));
      const __m256i sc_hi23 =
          _mm256_permutevar8x32_epi32(sc8, _mm256_setr_epi32(5, 5, 5, 5, 7, 7, 7, 7));
      const int64_t g = 2 * b + h;  // quad index in the row
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int8_t* x = a.qs + (t0 + t) * a.n_in + g * 128;
        const int64_t lane0 = ((t0 + t) * nab + 4 * g) * kLanesPerBlock;
        auto part = [&](__m256i codes, const int8_t* xp, const int32_t* bias, __m256i sc)
            __attribute__((always_inline)) {
          const __m256i s = _mm256_madd_epi16(
              _mm256_maddubs_epi16(codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xp))),
              ones);
          return _mm256_mullo_epi32(
              _mm256_add_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias))), sc);
        };
        const __m256i p01 = _mm256_add_epi32(part(lo01, x, a.bias + lane0, sc_lo01),
                                             part(hi01, x + 64, a.bias2 + lane0, sc_hi01));
        const __m256i p23 = _mm256_add_epi32(part(lo23, x + 32, a.bias + lane0 + 8, sc_lo23),
                                             part(hi23, x + 96, a.bias2 + lane0 + 8, sc_hi23));
        acc0[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p01),
                                  _mm256_mul_ps(dw, _mm256_loadu_ps(a.dl + lane0)), acc0[t]);
        acc1[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p23),
                                  _mm256_mul_ps(dw, _mm256_loadu_ps(a.dl + lane0 + 8)), acc1[t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = hsum256(_mm256_add_ps(acc0[t], acc1[t]));
}

}  // namespace

void dot_q6_k_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
