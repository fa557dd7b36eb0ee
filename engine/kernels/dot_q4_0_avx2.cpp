// Q4_0 x Q8_0 dot, AVX2 + FMA + F16C: unsigned nibbles x signed codes with the -8 zero point
// folded in through ActQ8::bias (dot_q4_0.h), quad loop of quad_dot_avx2.h. A block's low /
// high nibbles are its elements 0..15 / 16..31, i.e. the quad's first / second halves.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q4_0.h"
#include "kernels/quad_dot_avx2.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;

struct UnpackQ4_0 {
  static constexpr int64_t kQuadBytes = 4 * kBlockBytes;

  QuadCodes2 operator()(const uint8_t* p) const {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    auto codes = [&](const uint8_t* b0) __attribute__((always_inline)) {
      return _mm256_inserti128_si256(
          _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + 2))),
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + kBlockBytes + 2)), 1);
    };
    const __m256i q01 = codes(p);
    const __m256i q23 = codes(p + 2 * kBlockBytes);
    // The 4 fp16 scales, then each repeated over its block's 4 lanes.
    uint16_t h[4];
    for (int j = 0; j < 4; ++j)
      std::memcpy(&h[j], p + j * kBlockBytes, 2);
    const uint64_t packed =
        h[0] | (uint64_t{h[1]} << 16) | (uint64_t{h[2]} << 32) | (uint64_t{h[3]} << 48);
    const __m256 d4 =
        _mm256_castps128_ps256(_mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(packed))));
    return {_mm256_and_si256(q01, nibble),
            _mm256_and_si256(q23, nibble),
            _mm256_and_si256(_mm256_srli_epi16(q01, 4), nibble),
            _mm256_and_si256(_mm256_srli_epi16(q23, 4), nibble),
            _mm256_permutevar8x32_ps(d4, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1)),
            _mm256_permutevar8x32_ps(d4, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3))};
  }
  float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const {
    return dot_q4_0_ref_blocks(row, a, t, b0, b1);
  }
};

}  // namespace

void dot_q4_0_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  quad_dot(UnpackQ4_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
