// Q4_K x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI). A 256-value block is 2 quads of activation
// blocks (act_q8.h); group g (32 values) has scale d * sc_g, min dmin * m_g and lines up with
// activation block g (dot_q4_k_ref.cpp):
//   per quad, per token:  acc += f32(dpbusd(lo, x_lo) + dpbusd(hi, x_hi)) * (d sc_g * dl)
//   per block, per token: macc += (dmin m_g) * ds_g        (8 groups in one ymm)
// vpermb + vpmultishiftqb place each nibble under its activation byte.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q4_k.h"
#include "kernels/quad_dot_avx512.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 144;

struct Consts {
  // Output byte o: activation block j = o / 16 of the quad is the low (j even) or high (j odd)
  // nibbles of the quad's chunk j / 2 (32 code bytes); lo takes its bytes 0..15, hi 16..31.
  __m512i lo_idx = byte_index([](int o) { return 32 * (o / 32) + o % 16; });
  __m512i hi_idx = byte_index([](int o) { return 32 * (o / 32) + 16 + o % 16; });
  __m512i shift = byte_index([](int o) { return 8 * (o % 8) + 4 * ((o / 16) % 2); });
  __m512i nibble = _mm512_set1_epi8(0x0F);
  __m512i lanes_q0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512i lanes_q1 = _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
};

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

template <int T>
void row_tokens(const Consts& c, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
                int64_t ldy) {
  const int64_t nab = a.n_in / kQ8Block;
  const int64_t nb = a.n_in / 256;
  const int8_t* qs[T];
  const float* dl[T];
  const float* ds[T];
  __m512 acc0[T];
  __m512 acc1[T];
  __m256 macc[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nab * kLanesPerBlock;
    ds[t] = a.ds + (t0 + t) * nab;
    acc0[t] = _mm512_setzero_ps();
    acc1[t] = _mm512_setzero_ps();
    macc[t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    __m256 sc8, m8;
    scales_mins(p + 4, half_to_float(p), half_to_float(p + 2), &sc8, &m8);
    const __m512 sc16 = _mm512_castps256_ps512(sc8);
    auto quad = [&](int q, const __m512i& lanes, __m512* acc) __attribute__((always_inline)) {
      const __m512i z = _mm512_loadu_si512(p + 16 + 64 * q);
      const __m512i lo = _mm512_and_si512(
          _mm512_multishift_epi64_epi8(c.shift, _mm512_permutexvar_epi8(c.lo_idx, z)), c.nibble);
      const __m512i hi = _mm512_and_si512(
          _mm512_multishift_epi64_epi8(c.shift, _mm512_permutexvar_epi8(c.hi_idx, z)), c.nibble);
      const __m512 scl = _mm512_permutexvar_ps(lanes, sc16);
      const int64_t g = 2 * b + q;  // quad index in the row
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int8_t* x = qs[t] + g * 128;
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(x));
        s = _mm512_dpbusd_epi32(s, hi, _mm512_loadu_si512(x + 64));
        const __m512 f = _mm512_mul_ps(scl, _mm512_loadu_ps(dl[t] + g * 16));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), f, acc[t]);
      }
    };
    quad(0, c.lanes_q0, acc0);
    quad(1, c.lanes_q1, acc1);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      macc[t] = _mm256_fmadd_ps(m8, _mm256_loadu_ps(ds[t] + 8 * b), macc[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    const __m256 mm = macc[t];
    __m128 m4 = _mm_add_ps(_mm256_castps256_ps128(mm), _mm256_extractf128_ps(mm, 1));
    m4 = _mm_add_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_add_ss(m4, _mm_movehdup_ps(m4));
    y[(t0 + t) * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t])) - _mm_cvtss_f32(m4);
  }
}

}  // namespace

void dot_q4_k_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  const Consts c;
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(c, row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
