// KV cache rows widened to f32, AVX2 + F16C (kv_rows.h): 8 lanes at a time; f16 tails and
// anything shorter than a vector go to the reference.
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

// 8 int8 codes at p, times d.
inline __m256 codes8(const uint8_t* p, __m256 d) {
  const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)));
}

}  // namespace

void widen_kv_f16_avx2(const uint8_t* src, int64_t n, float scale, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  if (i < n) widen_kv_f16_ref(src + 2 * i, n - i, scale, dst + i);
}

void widen_kv_q8_avx2(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ8BlockBytes;
    const __m256 d = _mm256_set1_ps(load_scale(blk));
    float* o = dst + b * kKvBlock;
    for (int k = 0; k < 4; ++k)
      _mm256_storeu_ps(o + 8 * k, codes8(blk + 2 + 8 * k, d));
  }
}

void widen_kv_q4_avx2(const uint8_t* src, int64_t n, float, float* dst) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i eight = _mm_set1_epi8(8);
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ4BlockBytes;
    const __m256 d = _mm256_set1_ps(load_scale(blk));
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, mask), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), eight);
    float* o = dst + b * kKvBlock;
    auto put = [&](__m128i v, float* out) {
      _mm256_storeu_ps(out, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v))));
      _mm256_storeu_ps(
          out + 8,
          _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)))));
    };
    put(lo, o);
    put(hi, o + 16);
  }
}

void widen_kv_q8s_avx2(const uint8_t* src, int64_t n, float scale, float* dst) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, codes8(src + i, s));
  if (i < n) widen_kv_q8s_ref(src + i, n - i, scale, dst + i);
}

}  // namespace gemmad::kernels
