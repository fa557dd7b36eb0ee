// AVX-512 VNNI scaled-code dot kernels (dot_gq.h): vpdpbusd (unsigned codes x signed
// activations, exact int32 sums) on 64 codes per step, 32 for a group's odd tail; gq8 codes
// are made unsigned by flipping the sign bit (k + 128), then 128 * the code sum is taken off.
#include "kernels/dot_gq.h"
#include "kernels/gq_decode_x86.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {
namespace {

using namespace gqx86;

template <int kBits>
__m256i codes32(const uint8_t* row, int64_t i) {
  if constexpr (kBits == 8) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i)),
                            _mm256_set1_epi8(static_cast<char>(0x80)));
  } else if constexpr (kBits == 4) {
    return codes32_gq4(row + i / 2);
  } else {
    return codes32_gq2(row + i / 4);
  }
}

template <int kBits>
int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t, int64_t g) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  const int64_t i0 = g * a.group;
  __m512i acc = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= a.group; i += 64) {
    const __m512i c = _mm512_inserti64x4(_mm512_castsi256_si512(codes32<kBits>(row, i0 + i)),
                                         codes32<kBits>(row, i0 + i + 32), 1);
    acc = _mm512_dpbusd_epi32(acc, c, _mm512_loadu_si512(q + i));
  }
  __m256i acc2 = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
  if (i < a.group) {
    acc2 = _mm256_dpbusd_epi32(acc2, codes32<kBits>(row, i0 + i),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i)));
  }
  constexpr int32_t kOffset = kBits == 8 ? 128 : kBits == 4 ? 8 : 2;
  return hsum_epi32(acc2) - kOffset * a.sum[t * a.n_groups + g];
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(avx512)

}  // namespace gemmad::kernels
