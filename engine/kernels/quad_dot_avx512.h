// The AVX-512 row x tokens loop shared by the Q4_0, Q8_0 and Q2_0 kernels: per quad of 4
// activation blocks (act_q8.h), an Unpack gives the 64 unsigned weight codes facing the quad's
// first halves (lo), the 64 facing its second halves (hi) and the f32 weight scale of each
// lane (dw); then per token
//   p = bias + dpbusd(lo, x_lo) + dpbusd(hi, x_hi)      exact integer lane sums
//   acc += f32(p) * (dw * dl)                            two accumulators (even / odd quads)
// Up to 4 tokens share each unpacked quad, so a row is read from memory once per call, and
// each token sees the same operation sequence whatever the batch.
// Include only from files compiled with the AVX-512 flags: internal linkage only.
#pragma once

#include "kernels/immintrin_wrap.h"

#include <cstdint>

#include "kernels/act_q8.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

// How far ahead of the quad being unpacked the weights are prefetched (past the row's end it
// reaches into the next row, which is read next; a prefetch never faults).
constexpr int64_t kPrefetchBytes = 1024;

struct QuadCodes {
  __m512i lo;
  __m512i hi;
  __m512 dw;
};

// Unpack: struct with `static constexpr int64_t kQuadBytes` (weight bytes per 128 values),
// `QuadCodes operator()(const uint8_t* p) const` and
// `float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const`
// (reference sum over the activation blocks [b0, b1) left after the last full quad).
template <int T, typename Unpack>
void quad_row_tokens(const Unpack& unpack, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
                     int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  const int8_t* qs[T];
  const float* dl[T];
  const int32_t* bias[T];
  __m512 acc0[T];
  __m512 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nb * kLanesPerBlock;
    bias[t] = a.bias + (t0 + t) * nb * kLanesPerBlock;
    acc0[t] = _mm512_setzero_ps();
    acc1[t] = _mm512_setzero_ps();
  }
  auto quad = [&](int64_t g, __m512 * acc) __attribute__((always_inline)) {
    _mm_prefetch(reinterpret_cast<const char*>(row + g * Unpack::kQuadBytes + kPrefetchBytes),
                 _MM_HINT_T0);
    const QuadCodes c = unpack(row + g * Unpack::kQuadBytes);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const int8_t* x = qs[t] + g * 128;
      __m512i p = _mm512_loadu_si512(bias[t] + g * 16);
      p = _mm512_dpbusd_epi32(p, c.lo, _mm512_loadu_si512(x));
      p = _mm512_dpbusd_epi32(p, c.hi, _mm512_loadu_si512(x + 64));
      const __m512 s = _mm512_mul_ps(c.dw, _mm512_loadu_ps(dl[t] + g * 16));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[t]);
    }
  };
  int64_t g = 0;
  for (; g + 2 <= quads; g += 2) {
    quad(g, acc0);
    quad(g + 1, acc1);
  }
  if (g < quads) quad(g, acc0);
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));
    if (quads * kQuadBlocks < nb) sum += unpack.tail(row, a, t0 + t, quads * kQuadBlocks, nb);
    y[(t0 + t) * ldy] = sum;
  }
}

template <typename Unpack>
void quad_dot(const Unpack& unpack, const uint8_t* w, uint64_t row_bytes, int64_t n_rows,
              const ActQ8& a, float* y, int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, a.n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              quad_row_tokens<tok>(unpack, row, a, t0, yr, ldy);
            });
}

// A 64-byte index vector from a function of the output byte.
template <typename F>
__m512i byte_index(F f) {
  alignas(64) uint8_t v[64];
  for (int o = 0; o < 64; ++o)
    v[o] = static_cast<uint8_t>(f(o));
  return _mm512_load_si512(v);
}

}  // namespace
}  // namespace gemmad::kernels
