// AVX2 scaled-code dot kernels (dot_gq.h). gq2/gq4: unsigned codes x signed activations with
// maddubs (|products| <= 15 * 128 * 2, no saturation), minus offset * the group's code sum;
// gq8: both sides widened to 16 bits and madd, exact for -128 codes too.
#include "kernels/dot_gq.h"
#include "kernels/gq_decode_x86.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {
namespace {

using namespace gqx86;

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  const int64_t i0 = g * a.group;
  __m256i acc = _mm256_setzero_si256();
  if constexpr (kBits == 8) {
    for (int64_t i = 0; i < a.group; i += 16) {
      const __m256i w16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i0 + i)));
      const __m256i q16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w16, q16));
    }
    return hsum_epi32(acc);
  } else {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t i = 0; i < a.group; i += 32) {
      const __m256i c =
          kBits == 4 ? codes32_gq4(row + (i0 + i) / 2) : codes32_gq2(row + (i0 + i) / 4);
      const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, qv), ones));
    }
    constexpr int32_t kOffset = kBits == 4 ? 8 : 2;
    return hsum_epi32(acc) - kOffset * a.sum[t * a.n_groups + g];
  }
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(avx2)

}  // namespace gemmad::kernels
