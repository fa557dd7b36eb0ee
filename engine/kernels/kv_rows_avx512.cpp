// KV cache rows widened to f32, AVX-512F (kv_rows.h): 16 lanes at a time; f16 tails go to the
// reference.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/kv_rows.h"

namespace gemmad::kernels {
namespace {

inline float load_scale(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

inline __m512 codes16(__m128i c, __m512 d) {
  return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(c)));
}

}  // namespace

void widen_kv_f16_avx512(const uint8_t* src, int64_t n, float scale, float* dst) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
  if (i < n) widen_kv_f16_ref(src + 2 * i, n - i, scale, dst + i);
}

void widen_kv_q8_avx512(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ8BlockBytes;
    const __m512 d = _mm512_set1_ps(load_scale(blk));
    float* o = dst + b * kKvBlock;
    _mm512_storeu_ps(o, codes16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)), d));
    _mm512_storeu_ps(o + 16,
                     codes16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 18)), d));
  }
}

void widen_kv_q4_avx512(const uint8_t* src, int64_t n, float, float* dst) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i eight = _mm_set1_epi8(8);
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ4BlockBytes;
    const __m512 d = _mm512_set1_ps(load_scale(blk));
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, mask), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), eight);
    float* o = dst + b * kKvBlock;
    _mm512_storeu_ps(o, codes16(lo, d));
    _mm512_storeu_ps(o + 16, codes16(hi, d));
  }
}

void widen_kv_q8s_avx512(const uint8_t* src, int64_t n, float scale, float* dst) {
  const __m512 s = _mm512_set1_ps(scale);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i,
                     codes16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)), s));
  if (i < n) widen_kv_q8s_ref(src + i, n - i, scale, dst + i);
}

}  // namespace gemmad::kernels
