// Private to the x86 scaled-code kernels (files built with AVX2 flags or more): horizontal sums
// of int32 lanes. Internal linkage (unnamed namespace), as row_tiles.h explains: each kernel
// file keeps the copy compiled with its own flags.
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

// out[i * stride] = sum of acc[i]'s lanes, i < R; four rows share one transposing reduction.
template <int R>
inline void store_hsums(const __m256i* acc, int32_t* out, int64_t stride) {
  if constexpr (R == 4) {
    const __m256i s01 = _mm256_hadd_epi32(acc[0], acc[1]);
    const __m256i s23 = _mm256_hadd_epi32(acc[2], acc[3]);
    const __m256i s = _mm256_hadd_epi32(s01, s23);  // row i's partial sums in lanes i, i + 4
    alignas(16) int32_t v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(v),
                    _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i)
      out[i * stride] = v[i];
  } else {
    for (int i = 0; i < R; ++i)
      out[i * stride] = hsum_epi32(acc[i]);
  }
}

}  // namespace
}  // namespace gemmad::kernels::gqx86
