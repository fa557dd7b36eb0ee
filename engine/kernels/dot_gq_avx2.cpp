// AVX2 scaled-code dot kernels (dot_gq.h). gq2/gq4: each 32-byte vector of codes is split into
// its bit fields (one shift and mask per phase), each multiplied with the matching plane of the
// phase-ordered activations (act_i8.h) by maddubs (unsigned codes x signed activations,
// |products| <= 15 * 128 * 2: no saturation), minus offset * the group's code sum; tails use
// the reference. gq8: both sides widened to 16 bits and madd, exact for -128 codes too.
#include "kernels/dot_gq.h"
#include "kernels/gq_decode_x86.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {
namespace {

using namespace gqx86;

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  __m256i acc = _mm256_setzero_si256();
  if constexpr (kBits == 8) {
    const uint8_t* w = row + g * a.group;
    for (int64_t i = 0; i < a.group; i += 16) {
      const __m256i w16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
      const __m256i q16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w16, q16));
    }
    return hsum_epi32(acc);
  } else {
    // Byte j of the group holds one code of each phase; phase p meets plane p (act_i8.h).
    constexpr int kPhases = 8 / kBits;
    constexpr int32_t kOffset = 1 << (kBits - 1);
    const int64_t gb = a.group / kPhases;  // bytes per group = plane length
    const uint8_t* b = row + g * gb;
    const __m256i mask = _mm256_set1_epi8((1 << kBits) - 1);
    const __m256i ones = _mm256_set1_epi16(1);
    int64_t j = 0;
    for (; j + 32 <= gb; j += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j));
      for (int p = 0; p < kPhases; ++p) {
        const __m256i c = _mm256_and_si256(_mm256_srli_epi16(v, kBits * p), mask);
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + p * gb + j));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, qv), ones));
      }
    }
    int32_t s = hsum_epi32(acc);
    if (j < gb) s += gq_packed_sum_ref(kBits, b, q, a.group, j, gb);
    return s - kOffset * a.sum[t * a.n_groups + g];
  }
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(avx2)

}  // namespace gemmad::kernels
