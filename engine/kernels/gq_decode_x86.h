// Private to the x86 scaled-code kernels (files built with AVX2 flags): the horizontal sum of
// eight int32 lanes.
#pragma once

#include <cstdint>

#include "kernels/immintrin_wrap.h"

namespace gemmad::kernels::gqx86 {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace gemmad::kernels::gqx86
