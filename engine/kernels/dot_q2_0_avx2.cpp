// Q2_0 x Q8_0 dot, AVX2 + FMA + F16C: 2-bit codes with the -1 zero point folded in through
// ActQ8::bias, quad loop of quad_dot_avx2.h. A quad (4 activation blocks) is 2 weight blocks of
// 64 values; element e of a block is bits 2(e % 4) of code byte e / 4, so the 16 values facing
// a half of an activation block come from 4 consecutive code bytes:
//   pshufb copies code byte k into bytes 4k..4k+3 (value m of the 4 sits in byte 4k + m);
//   a 32-bit shift by 4 blended into the upper words puts bits 4-7 under values 2 and 3; then
//   each 16-bit word (values m, m+1) keeps bits 0-1 low and moves bits 10-11 down by 2.
#include <cstring>

#include "kernels/dot_q2_0.h"
#include "kernels/immintrin_wrap.h"
#include "kernels/quad_dot_avx2.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;

// The 32 codes (values 0..3) from code bytes [k0, k0+4) in the low lane and [k1, k1+4) in the
// high lane of y (both lanes hold the block's 16 code bytes).
inline __m256i expand(__m256i y, int k0, int k1) {
  const __m256i idx = _mm256_setr_epi8(
      static_cast<char>(k0), static_cast<char>(k0), static_cast<char>(k0), static_cast<char>(k0),
      static_cast<char>(k0 + 1), static_cast<char>(k0 + 1), static_cast<char>(k0 + 1),
      static_cast<char>(k0 + 1), static_cast<char>(k0 + 2), static_cast<char>(k0 + 2),
      static_cast<char>(k0 + 2), static_cast<char>(k0 + 2), static_cast<char>(k0 + 3),
      static_cast<char>(k0 + 3), static_cast<char>(k0 + 3), static_cast<char>(k0 + 3),
      static_cast<char>(k1), static_cast<char>(k1), static_cast<char>(k1), static_cast<char>(k1),
      static_cast<char>(k1 + 1), static_cast<char>(k1 + 1), static_cast<char>(k1 + 1),
      static_cast<char>(k1 + 1), static_cast<char>(k1 + 2), static_cast<char>(k1 + 2),
      static_cast<char>(k1 + 2), static_cast<char>(k1 + 2), static_cast<char>(k1 + 3),
      static_cast<char>(k1 + 3), static_cast<char>(k1 + 3), static_cast<char>(k1 + 3));
  const __m256i r = _mm256_shuffle_epi8(y, idx);
  const __m256i u = _mm256_blend_epi16(r, _mm256_srli_epi32(r, 4), 0xAA);
  return _mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi16(0x0003)),
                         _mm256_srli_epi16(_mm256_and_si256(u, _mm256_set1_epi16(0x0C00)), 2));
}

inline float half_to_float(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

struct UnpackQ2_0 {
  static constexpr int64_t kQuadBytes = 2 * kBlockBytes;

  // Activation blocks 0, 1 are weight block 0 (values 0..31, 32..63); 2, 3 weight block 1.
  // First halves: values 0..15 and 32..47 = code bytes 0..3 and 8..11; second halves 4..7
  // and 12..15.
  QuadCodes2 operator()(const uint8_t* p) const {
    const __m256i y0 =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    const __m256i y1 = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + kBlockBytes + 2)));
    return {expand(y0, 0, 8),
            expand(y1, 0, 8),
            expand(y0, 4, 12),
            expand(y1, 4, 12),
            _mm256_set1_ps(half_to_float(p)),
            _mm256_set1_ps(half_to_float(p + kBlockBytes))};
  }
  // Activation blocks come in pairs per weight block, so b0 and b1 are even.
  float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const {
    return dot_q2_0_ref_blocks(row, a, t, b0 / 2, b1 / 2);
  }
};

}  // namespace

void dot_q2_0_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy) {
  quad_dot(UnpackQ2_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
