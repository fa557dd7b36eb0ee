// AVX-512 VNNI scaled-code dot kernels (dot_gq.h): vpdpbusd (unsigned codes x signed
// activations, exact int32 sums). gq2/gq4: 64 bytes of codes per step split into their bit
// fields, each against its plane of the phase-ordered activations (act_i8.h), then 32-byte
// steps and a reference tail; gq8: codes made unsigned by flipping the sign bit (k + 128), then
// 128 * the code sum is taken off.
#include "kernels/dot_gq.h"
#include "kernels/gq_decode_x86.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {
namespace {

using namespace gqx86;

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  __m512i acc = _mm512_setzero_si512();
  if constexpr (kBits == 8) {
    // Codes made unsigned (k + 128) for vpdpbusd; 128 * sum(q) comes off at the end.
    const uint8_t* w = row + g * a.group;
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    int64_t i = 0;
    for (; i + 64 <= a.group; i += 64) {
      const __m512i c = _mm512_xor_si512(_mm512_loadu_si512(w + i), flip);
      acc = _mm512_dpbusd_epi32(acc, c, _mm512_loadu_si512(q + i));
    }
    __m256i acc2 = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    if (i < a.group) {  // groups are multiples of 32
      const __m256i c =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)),
                           _mm256_set1_epi8(static_cast<char>(0x80)));
      acc2 =
          _mm256_dpbusd_epi32(acc2, c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i)));
    }
    return hsum_epi32(acc2) - 128 * a.sum[t * a.n_groups + g];
  } else {
    // Byte j of the group holds one code of each phase; phase p meets plane p (act_i8.h).
    constexpr int kPhases = 8 / kBits;
    constexpr int32_t kOffset = 1 << (kBits - 1);
    const int64_t gb = a.group / kPhases;
    const uint8_t* b = row + g * gb;
    const __m512i mask = _mm512_set1_epi8((1 << kBits) - 1);
    int64_t j = 0;
    for (; j + 64 <= gb; j += 64) {
      const __m512i v = _mm512_loadu_si512(b + j);
      for (int p = 0; p < kPhases; ++p) {
        const __m512i c = _mm512_and_si512(_mm512_srli_epi16(v, kBits * p), mask);
        acc = _mm512_dpbusd_epi32(acc, c, _mm512_loadu_si512(q + p * gb + j));
      }
    }
    __m256i acc2 = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    const __m256i mask2 = _mm256_set1_epi8((1 << kBits) - 1);
    for (; j + 32 <= gb; j += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j));
      for (int p = 0; p < kPhases; ++p) {
        const __m256i c = _mm256_and_si256(_mm256_srli_epi16(v, kBits * p), mask2);
        acc2 = _mm256_dpbusd_epi32(
            acc2, c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + p * gb + j)));
      }
    }
    int32_t s = hsum_epi32(acc2);
    if (j < gb) s += gq_packed_sum_ref(kBits, b, q, a.group, j, gb);
    return s - kOffset * a.sum[t * a.n_groups + g];
  }
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(avx512)

}  // namespace gemmad::kernels
