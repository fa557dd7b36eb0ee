// Q4_K x Q8_0 dot, AVX2 + FMA + F16C (numerics of dot_q4_k_ref.cpp / dot_q4_k_avx512.cpp).
// Chunk c of a block (32 code bytes) holds activation block 2c in its low nibbles and 2c + 1
// in its high nibbles; a 32-byte vector [x & 15 | x >> 4] of 16 code bytes x faces the first
// (or second) halves of those two blocks in the quad layout (act_q8.h).
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q4_k.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 144;

// The 8 6-bit scales and 8 mins packed in 12 bytes (block_layouts.h get_scale_min_k4), as
// f32 times d and dmin. Word arithmetic on the three little-endian words u0, u1, u2 does all 8
// at once: sc 0-3 / m 0-3 are the low 6 bits of u0 / u1; sc 4-7 take their low nibble from
// u2 and top 2 bits from the top of u0; m 4-7 their low nibble from u2's high nibbles and top
// 2 bits from the top of u1.
inline void scales_mins(const uint8_t* q, float d, float dmin, __m256* sc, __m256* m) {
  uint32_t u[3];
  std::memcpy(u, q, sizeof u);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
  const uint32_t m_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  const __m128i sc8 =
      _mm_cvtsi64_si128(static_cast<long long>(sc_lo | (static_cast<uint64_t>(sc_hi) << 32)));
  const __m128i m8 =
      _mm_cvtsi64_si128(static_cast<long long>(m_lo | (static_cast<uint64_t>(m_hi) << 32)));
  *sc = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc8)), _mm256_set1_ps(d));
  *m = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(m8)), _mm256_set1_ps(dmin));
}

inline float half_to_float(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// [x & 15 | x >> 4] for the 16 code bytes at p.
inline __m256i nibbles(const uint8_t* p) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

template <int T>
void row_tokens(const uint8_t* row, const ActQ8& a, int64_t t0, float* y, int64_t ldy) {
  const int64_t nab = a.n_in / kQ8Block;
  const int64_t nb = a.n_in / 256;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  __m256 macc[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm256_setzero_ps();
    macc[t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    __m256 sc8, m8;
    scales_mins(p + 4, half_to_float(p), half_to_float(p + 2), &sc8, &m8);
    for (int c = 0; c < 4; ++c) {  // chunk c = activation blocks 2c, 2c + 1
      const __m256i lo = nibbles(p + 16 + 32 * c);
      const __m256i hi = nibbles(p + 16 + 32 * c + 16);
      const __m256 scl =
          _mm256_permutevar8x32_ps(sc8, _mm256_setr_epi32(2 * c, 2 * c, 2 * c, 2 * c, 2 * c + 1,
                                                          2 * c + 1, 2 * c + 1, 2 * c + 1));
      const int64_t ab = 8 * b + 2 * c;  // first activation block of the pair
      const int64_t x_off = (ab / 4) * 128 + (ab % 4) * 16;
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int8_t* x = a.qs + (t0 + t) * a.n_in + x_off;
        const __m256i s16 = _mm256_add_epi16(
            _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x))),
            _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 64))));
        const __m256 f =
            _mm256_mul_ps(scl, _mm256_loadu_ps(a.dl + ((t0 + t) * nab + ab) * kLanesPerBlock));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s16, ones)), f, acc[t]);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      macc[t] = _mm256_fmadd_ps(m8, _mm256_loadu_ps(a.ds + (t0 + t) * nab + 8 * b), macc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = hsum256(acc[t]) - hsum256(macc[t]);
}

}  // namespace

void dot_q4_k_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
