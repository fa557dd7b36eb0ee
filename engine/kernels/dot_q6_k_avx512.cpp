// Q6_K x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI). A 256-value block is 2 halves of 128 values,
// each one quad of activation blocks (act_q8.h). Activation block j of half h is quarter j of
// the half; its first 16 values form group 8h + 2j and its last 16 group 8h + 2j + 1, each
// with its own int8 scale, so lo and hi sums are scaled separately (ActQ8::bias / bias2 hold
// the -32 zero point of each part):
//   p = (bias + dpbusd(lo, x_lo)) * sc_lo + (bias2 + dpbusd(hi, x_hi)) * sc_hi   exact int32
//   acc += f32(p) * (d * dl)
// The 6-bit codes: low 4 bits from ql (nibble by quarter), high 2 from qh (bit pair by
// quarter), each put under its activation byte with vpermb + vpmultishiftqb.
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_q6_k.h"
#include "kernels/quad_dot_avx512.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 210;

// Output byte o: quarter k = o / 16, value l = o % 16 (+16 for hi) of that quarter.
struct Consts {
  __m512i ql_lo = byte_index([](int o) { return o % 16 + 32 * ((o / 16) & 1); });
  __m512i ql_hi = byte_index([](int o) { return 16 + o % 16 + 32 * ((o / 16) & 1); });
  __m512i ql_shift = byte_index([](int o) { return 8 * (o % 8) + (o / 16 >= 2 ? 4 : 0); });
  __m512i qh_lo = byte_index([](int o) { return o % 16; });
  __m512i qh_hi = byte_index([](int o) { return 16 + o % 16; });
  // Bits 2k, 2k+1 of the qh byte land in bits 4, 5 (the window wraps inside the qword).
  __m512i qh_shift = byte_index([](int o) { return (8 * (o % 8) + 2 * (o / 16) - 4) & 63; });
  __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512i bits45 = _mm512_set1_epi8(0x30);
  // Scale lanes: half h, part lo / hi -> group 8h + 2 (lane / 4) (+1).
  __m512i sc_lo0 = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
  __m512i sc_hi0 = _mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7);
  __m512i eight = _mm512_set1_epi32(8);
};

inline __m512i codes(const Consts& c, __m512i ql, __m512i qh, __m512i ql_idx, __m512i qh_idx) {
  const __m512i low = _mm512_and_si512(
      _mm512_multishift_epi64_epi8(c.ql_shift, _mm512_permutexvar_epi8(ql_idx, ql)), c.low4);
  const __m512i high = _mm512_and_si512(
      _mm512_multishift_epi64_epi8(c.qh_shift, _mm512_permutexvar_epi8(qh_idx, qh)), c.bits45);
  return _mm512_or_si512(low, high);
}

template <int T>
void row_tokens(const Consts& c, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
                int64_t ldy) {
  const int64_t nab = a.n_in / kQ8Block;
  const int64_t nb = a.n_in / 256;
  const int8_t* qs[T];
  const float* dl[T];
  const int32_t* bias[T];
  const int32_t* bias2[T];
  __m512 acc0[T];
  __m512 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nab * kLanesPerBlock;
    bias[t] = a.bias + (t0 + t) * nab * kLanesPerBlock;
    bias2[t] = a.bias2 + (t0 + t) * nab * kLanesPerBlock;
    acc0[t] = _mm512_setzero_ps();
    acc1[t] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* p = row + b * kBlockBytes;
    uint16_t dh;
    std::memcpy(&dh, p + 208, sizeof dh);
    const __m512 dw = _mm512_set1_ps(_cvtsh_ss(dh));
    const __m512i sc16 =
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192)));
    auto half = [&](int h, __m512* acc) __attribute__((always_inline)) {
      const __m512i ql = _mm512_loadu_si512(p + 64 * h);
      const __m512i qh = _mm512_maskz_loadu_epi8(0xFFFFFFFFull, p + 128 + 32 * h);
      const __m512i lo = codes(c, ql, qh, c.ql_lo, c.qh_lo);
      const __m512i hi = codes(c, ql, qh, c.ql_hi, c.qh_hi);
      const __m512i off = h == 0 ? _mm512_setzero_si512() : c.eight;
      const __m512i sc_lo = _mm512_permutexvar_epi32(_mm512_add_epi32(c.sc_lo0, off), sc16);
      const __m512i sc_hi = _mm512_permutexvar_epi32(_mm512_add_epi32(c.sc_hi0, off), sc16);
      const int64_t g = 2 * b + h;  // quad index in the row
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const int8_t* x = qs[t] + g * 128;
        const __m512i plo =
            _mm512_dpbusd_epi32(_mm512_loadu_si512(bias[t] + g * 16), lo, _mm512_loadu_si512(x));
        const __m512i phi = _mm512_dpbusd_epi32(_mm512_loadu_si512(bias2[t] + g * 16), hi,
                                                _mm512_loadu_si512(x + 64));
        const __m512i s =
            _mm512_add_epi32(_mm512_mullo_epi32(plo, sc_lo), _mm512_mullo_epi32(phi, sc_hi));
        const __m512 f = _mm512_mul_ps(dw, _mm512_loadu_ps(dl[t] + g * 16));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), f, acc[t]);
      }
    };
    half(0, acc0);
    half(1, acc1);
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    y[(t0 + t) * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
  }
}

}  // namespace

void dot_q6_k_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  const Consts c;
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok>(c, row, a, t0, yr, ldy);
            });
}

}  // namespace gemmad::kernels
