// AVX-512 VNNI scaled-code dot kernels (dot_gq.h), kR rows at a time so each activation vector
// loaded serves every row of the tile: vpdpbusd (unsigned codes x signed activations, exact
// int32 sums). gq2/gq4: 64 bytes of codes per step split into their bit fields, each against
// its plane of the phase-ordered activations (act_i8.h), then 32-byte steps and a reference
// tail; gq8: codes made unsigned by flipping the sign bit (k + 128), then 128 * the code sum is
// taken off.
#include "kernels/dot_gq.h"
#include "kernels/gq_decode_x86.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {
namespace {

using namespace gqx86;

template <int kR>
void fold_halves(const __m512i* acc, __m256i* acc2) {
#pragma GCC unroll 4
  for (int r = 0; r < kR; ++r)
    acc2[r] =
        _mm256_add_epi32(_mm512_castsi512_si256(acc[r]), _mm512_extracti64x4_epi64(acc[r], 1));
}

template <int kBits, int kR>
void group_isums(const uint8_t* row, uint64_t rb, const ActI8& a, int64_t t, int64_t g,
                 int32_t* out, int64_t stride) {
  const int8_t* q = a.qs + t * a.n_in + g * a.group;
  __m512i acc[kR];
  __m256i acc2[kR];
#pragma GCC unroll 4
  for (int r = 0; r < kR; ++r)
    acc[r] = _mm512_setzero_si512();
  if constexpr (kBits == 8) {
    // Codes made unsigned (k + 128) for vpdpbusd; 128 * sum(q) comes off at the end.
    const uint8_t* w = row + g * a.group;
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    int64_t i = 0;
    for (; i + 64 <= a.group; i += 64) {
      const __m512i qv = _mm512_loadu_si512(q + i);
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r) {
        const __m512i c = _mm512_xor_si512(_mm512_loadu_si512(w + r * rb + i), flip);
        acc[r] = _mm512_dpbusd_epi32(acc[r], c, qv);
      }
    }
    fold_halves<kR>(acc, acc2);
    if (i < a.group) {  // groups are multiples of 32
      const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r) {
        const __m256i c =
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * rb + i)),
                             _mm256_set1_epi8(static_cast<char>(0x80)));
        acc2[r] = _mm256_dpbusd_epi32(acc2[r], c, qv);
      }
    }
    store_hsums<kR>(acc2, out, stride);
    const int32_t off = 128 * a.sum[t * a.n_groups + g];
#pragma GCC unroll 4
    for (int r = 0; r < kR; ++r)
      out[r * stride] -= off;
  } else {
    // Byte j of the group holds one code of each phase; phase p meets plane p (act_i8.h).
    constexpr int kPhases = 8 / kBits;
    constexpr int32_t kOffset = 1 << (kBits - 1);
    const int64_t gb = a.group / kPhases;
    const uint8_t* b = row + g * gb;
    const __m512i mask = _mm512_set1_epi8((1 << kBits) - 1);
    int64_t j = 0;
    for (; j + 64 <= gb; j += 64) {
      __m512i v[kR];
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r)
        v[r] = _mm512_loadu_si512(b + r * rb + j);
#pragma GCC unroll 4
      for (int p = 0; p < kPhases; ++p) {
        const __m512i qv = _mm512_loadu_si512(q + p * gb + j);
#pragma GCC unroll 4
        for (int r = 0; r < kR; ++r) {
          const __m512i c = _mm512_and_si512(_mm512_srli_epi16(v[r], kBits * p), mask);
          acc[r] = _mm512_dpbusd_epi32(acc[r], c, qv);
        }
      }
    }
    fold_halves<kR>(acc, acc2);
    const __m256i mask2 = _mm256_set1_epi8((1 << kBits) - 1);
    for (; j + 32 <= gb; j += 32) {
      __m256i v[kR];
#pragma GCC unroll 4
      for (int r = 0; r < kR; ++r)
        v[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + r * rb + j));
#pragma GCC unroll 4
      for (int p = 0; p < kPhases; ++p) {
        const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + p * gb + j));
#pragma GCC unroll 4
        for (int r = 0; r < kR; ++r) {
          const __m256i c = _mm256_and_si256(_mm256_srli_epi16(v[r], kBits * p), mask2);
          acc2[r] = _mm256_dpbusd_epi32(acc2[r], c, qv);
        }
      }
    }
    store_hsums<kR>(acc2, out, stride);
    const int32_t off = kOffset * a.sum[t * a.n_groups + g];
#pragma GCC unroll 4
    for (int r = 0; r < kR; ++r) {
      if (j < gb) out[r * stride] += gq_packed_sum_ref(kBits, b + r * rb, q, a.group, j, gb);
      out[r * stride] -= off;
    }
  }
}

}  // namespace

GEMMAD_DEFINE_GQ_KERNELS(avx512)

}  // namespace gemmad::kernels
