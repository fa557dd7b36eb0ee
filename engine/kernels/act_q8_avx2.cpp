// Activation quantiser (act_q8.h), AVX2: bit-identical to quantize_act_q8_ref.
#include "kernels/immintrin_wrap.h"

#include "kernels/act_q8.h"

namespace gemmad::kernels {
namespace {

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace

void quantize_act_q8_avx2(const float* x, int64_t n, int32_t offset, bool split,
                          const ActQ8Row& out) {
  const int64_t nb = n / kQ8Block;
  const int64_t quad_end = nb / kQuadBlocks * kQuadBlocks;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 min = _mm256_set1_ps(-127.0f);
  const __m256 max = _mm256_set1_ps(127.0f);
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m128i neg = _mm_set1_epi32(-offset);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQ8Block;
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(xb + 8 * k);
      // max(|x|, acc) ignores a NaN |x| like std::fmax in the reference.
      m = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), m);
    }
    float inv = 0.0f;
    act_q8_block_scales(hmax(m), &out.d[b], &inv);
    const __m256 vinv = _mm256_set1_ps(inv);
    __m256i i32[4];
    for (int k = 0; k < 4; ++k) {
      // Clamp like the reference (max_ps returns its second operand for a NaN first one);
      // cvtps2dq rounds half to even, as nearbyint does.
      const __m256 s = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v[k], vinv), min), max);
      i32[k] = _mm256_cvtps_epi32(s);
    }
    // packs work per 128-bit lane; the permute restores element order.
    const __m256i i16a = _mm256_packs_epi32(i32[0], i32[1]);
    const __m256i i16b = _mm256_packs_epi32(i32[2], i32[3]);
    const __m256i q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(i16a, i16b),
                                                  _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    int8_t* dst_lo = b < quad_end ? out.qs + (b / 4) * 128 + (b % 4) * 16 : out.qs + b * 32;
    int8_t* dst_hi = b < quad_end ? dst_lo + 64 : dst_lo + 16;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst_lo), _mm256_castsi256_si128(q));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst_hi), _mm256_extracti128_si256(q, 1));
    // Lane sums: lanes 0..3 cover elements 0..15 in fours, lanes 4..7 elements 16..31.
    const __m256i lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
    const __m128i lo = _mm256_castsi256_si128(lanes);
    const __m128i hi = _mm256_extracti128_si256(lanes, 1);
    const __m128i both = _mm_add_epi32(lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.bias + 4 * b),
                     _mm_mullo_epi32(split ? lo : both, neg));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.bias2 + 4 * b),
                     split ? _mm_mullo_epi32(hi, neg) : _mm_setzero_si128());
    _mm_storeu_ps(out.dl + 4 * b, _mm_set1_ps(out.d[b]));
    __m128i s = _mm_add_epi32(both, _mm_shuffle_epi32(both, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    out.ds[b] = out.d[b] * static_cast<float>(_mm_cvtsi128_si32(s));
  }
}

}  // namespace gemmad::kernels
