// Private to the x86 scaled-code kernels: 32 codes of a gq2 / gq4 row as 32 unsigned bytes
// (code = value + offset), in element order. Included only by files built with AVX2 flags.
#pragma once

#include <cstdint>

#include "kernels/immintrin_wrap.h"

namespace gemmad::kernels::gqx86 {

// gq4: 16 bytes; element 2j = low nibble of byte j, 2j+1 = high nibble.
inline __m256i codes32_gq4(const uint8_t* p) {
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i lo = _mm_and_si128(b, m4);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), m4);
  return _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));
}

// gq2: 8 bytes; element 4j+i = bits 2i..2i+1 of byte j. Each byte is replicated to its four
// elements' positions, shifted by 0/2/4/6 and the right 2 bits kept per position (16-bit
// shifts pull bits in from the neighbouring byte only above the 2 kept).
inline __m256i codes32_gq2(const uint8_t* p) {
  int64_t raw;
  __builtin_memcpy(&raw, p, sizeof raw);
  const __m256i bb = _mm256_set1_epi64x(raw);
  const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,  //
                                       4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
  const __m256i rep = _mm256_shuffle_epi8(bb, idx);
  const __m256i m0 = _mm256_set1_epi32(0x00000003);
  const __m256i m1 = _mm256_set1_epi32(0x00000300);
  const __m256i m2 = _mm256_set1_epi32(0x00030000);
  const __m256i m3 = _mm256_set1_epi32(0x03000000);
  const __m256i c0 = _mm256_and_si256(rep, m0);
  const __m256i c1 = _mm256_and_si256(_mm256_srli_epi16(rep, 2), m1);
  const __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(rep, 4), m2);
  const __m256i c3 = _mm256_and_si256(_mm256_srli_epi16(rep, 6), m3);
  return _mm256_or_si256(_mm256_or_si256(c0, c1), _mm256_or_si256(c2, c3));
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace gemmad::kernels::gqx86
