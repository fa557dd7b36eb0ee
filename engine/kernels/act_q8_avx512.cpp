// Activation quantiser (act_q8.h), AVX-512: bit-identical to quantize_act_q8_ref.
#include "kernels/immintrin_wrap.h"

#include "kernels/act_q8.h"

namespace gemmad::kernels {
namespace {

// Quantises 32 floats: *lo / *hi receive the codes of elements 0..15 / 16..31.
inline void quantize_block(const float* x, float* d, __m128i* lo, __m128i* hi) {
  const __m512 x0 = _mm512_loadu_ps(x);
  const __m512 x1 = _mm512_loadu_ps(x + 16);
  // max(|x|, acc) ignores a NaN |x| like std::fmax in the reference.
  const __m512 m = _mm512_max_ps(_mm512_abs_ps(x1), _mm512_abs_ps(x0));
  float inv = 0.0f;
  act_q8_block_scales(_mm512_reduce_max_ps(m), d, &inv);
  const __m512 vinv = _mm512_set1_ps(inv);
  // Clamp like the reference (max_ps returns its second operand for a NaN first one).
  const __m512 min = _mm512_set1_ps(-127.0f);
  const __m512 max = _mm512_set1_ps(127.0f);
  const __m512 v0 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x0, vinv), min), max);
  const __m512 v1 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x1, vinv), min), max);
  // cvtps2dq rounds half to even (default MXCSR), as nearbyint does in the reference.
  *lo = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v0));
  *hi = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v1));
}

// Writes bias / bias2 / ds / dl for `nblk` blocks whose lo / hi lane sums are in lo / hi
// (lane 4j + l of block j).
inline void finish_lanes(__m512i lo, __m512i hi, int32_t offset, bool split, const float* d,
                         float* ds, float* dl, int32_t* bias, int32_t* bias2, int nblk) {
  const __mmask16 m = static_cast<__mmask16>((1u << (4 * nblk)) - 1);
  const __m512i neg = _mm512_set1_epi32(-offset);
  const __m512i both = _mm512_add_epi32(lo, hi);
  _mm512_mask_storeu_epi32(bias, m, _mm512_mullo_epi32(split ? lo : both, neg));
  _mm512_mask_storeu_epi32(bias2, m, split ? _mm512_mullo_epi32(hi, neg) : _mm512_setzero_si512());
  const __m512i rep = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  _mm512_mask_storeu_ps(
      dl, m,
      _mm512_permutexvar_ps(rep,
                            _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << nblk) - 1), d)));
  alignas(64) int32_t s[16];
  _mm512_store_si512(s, both);
  for (int j = 0; j < nblk; ++j) {
    ds[j] = d[j] * static_cast<float>(s[4 * j] + s[4 * j + 1] + s[4 * j + 2] + s[4 * j + 3]);
  }
}

}  // namespace

void quantize_act_q8_avx512(const float* x, int64_t n, int32_t offset, bool split,
                            const ActQ8Row& out) {
  const int64_t nb = n / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t g = 0; g < quads; ++g) {
    __m128i lo[4], hi[4];
    const int64_t b0 = g * kQuadBlocks;
    for (int j = 0; j < 4; ++j)
      quantize_block(x + (b0 + j) * kQ8Block, &out.d[b0 + j], &lo[j], &hi[j]);
    __m512i zlo = _mm512_castsi128_si512(lo[0]);
    zlo = _mm512_inserti32x4(zlo, lo[1], 1);
    zlo = _mm512_inserti32x4(zlo, lo[2], 2);
    zlo = _mm512_inserti32x4(zlo, lo[3], 3);
    __m512i zhi = _mm512_castsi128_si512(hi[0]);
    zhi = _mm512_inserti32x4(zhi, hi[1], 1);
    zhi = _mm512_inserti32x4(zhi, hi[2], 2);
    zhi = _mm512_inserti32x4(zhi, hi[3], 3);
    int8_t* q = out.qs + b0 * kQ8Block;
    _mm512_storeu_si512(q, zlo);
    _mm512_storeu_si512(q + 64, zhi);
    finish_lanes(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, zlo),
                 _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, zhi), offset, split, out.d + b0,
                 out.ds + b0, out.dl + b0 * kLanesPerBlock, out.bias + b0 * kLanesPerBlock,
                 out.bias2 + b0 * kLanesPerBlock, 4);
  }
  for (int64_t b = quads * kQuadBlocks; b < nb; ++b) {
    __m128i lo, hi;
    quantize_block(x + b * kQ8Block, &out.d[b], &lo, &hi);
    int8_t* q = out.qs + b * kQ8Block;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), hi);
    finish_lanes(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_zextsi128_si512(lo)),
                 _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, _mm512_zextsi128_si512(hi)),
                 offset, split, out.d + b, out.ds + b, out.dl + b * kLanesPerBlock,
                 out.bias + b * kLanesPerBlock, out.bias2 + b * kLanesPerBlock, 1);
  }
}

}  // namespace gemmad::kernels
