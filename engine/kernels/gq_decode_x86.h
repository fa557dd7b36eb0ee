// Private to the x86 scaled-code kernels (files built with AVX2 flags or more): the horizontal
// sum of eight int32 lanes. Internal linkage (unnamed namespace), as row_tiles.h explains: each
// kernel file keeps the copy compiled with its own flags.
#pragma once

#include <cstdint>

#include "kernels/immintrin_wrap.h"

namespace gemmad::kernels::gqx86 {
namespace {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

}  // namespace
}  // namespace gemmad::kernels::gqx86
