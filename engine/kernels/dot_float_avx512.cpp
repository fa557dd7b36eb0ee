// F32 / F16 / BF16 x f32 dots, AVX-512F (F16C for F16): each 16-value chunk of up to 2 rows is
// converted once and multiplied into up to 4 tokens; two accumulators per (row, token) (even /
// odd chunks) hide the FMA latency; the last partial chunk uses masked loads (no overread).
#include "kernels/immintrin_wrap.h"

#include "kernels/dot_float.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

struct LoadF32 {
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  }
};
struct LoadF16 {
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * i));
  }
};
struct LoadBF16 {
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  }
};

// R rows x T tokens: each (row, token) pair keeps two accumulators (even / odd chunks), so its
// sequence of operations is the same for every R and T (batch invariance, kernel_table.h).
template <int R, int T, typename L>
void rows_tokens(const uint8_t* w, uint64_t row_bytes, const float* x, int64_t n_in, int64_t t0,
                 float* y, int64_t ldy) {
  __m512 acc0[R][T];
  __m512 acc1[R][T];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      acc0[r][t] = _mm512_setzero_ps();
      acc1[r][t] = _mm512_setzero_ps();
    }
  }
  auto chunk = [&](int64_t i, __mmask16 m, __m512(*acc)[T]) {
    __m512 wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
      wv[r] = L::load(w + r * row_bytes, i, m);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (t0 + t) * n_in + i);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  };
  const __mmask16 all = 0xFFFF;
  int64_t i = 0;
  for (; i + 32 <= n_in; i += 32) {
    chunk(i, all, acc0);
    chunk(i + 16, all, acc1);
  }
  if (i + 16 <= n_in) {
    chunk(i, all, acc0);
    i += 16;
  }
  if (i < n_in) chunk(i, static_cast<__mmask16>((1u << (n_in - i)) - 1), acc1);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      y[(t0 + t) * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r][t], acc1[r][t]));
    }
  }
}

template <int R, typename L>
void rows(const uint8_t* w, uint64_t row_bytes, const float* x, int64_t n_in, int64_t n_tok,
          float* y, int64_t ldy) {
  token_tiles(n_tok, [&](auto tok, int64_t t0) {
    rows_tokens<R, tok, L>(w, row_bytes, x, n_in, t0, y, ldy);
  });
}

// Pairs of rows when several tokens share them (prefill: the weight loads are then amortised
// over 8 FMAs); single rows for decode, which is bound by memory anyway.
template <typename L>
void dot_rows(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
              int64_t n_tok, float* y, int64_t ldy) {
  int64_t r = 0;
  if (n_tok > 1) {
    for (; r + 2 <= n_rows; r += 2)
      rows<2, L>(w + r * row_bytes, row_bytes, x, n_in, n_tok, y + r, ldy);
  }
  for (; r < n_rows; ++r)
    rows<1, L>(w + r * row_bytes, row_bytes, x, n_in, n_tok, y + r, ldy);
}

}  // namespace

void dot_f32_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                    int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF32>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_f16_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                    int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_bf16_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                     int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadBF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

}  // namespace gemmad::kernels
