// F32 / F16 / BF16 x f32 dots, AVX2 + FMA + F16C: each 8-value chunk of a row is converted once
// and multiplied into up to 4 tokens; two accumulators per token (even / odd chunks) hide the
// FMA latency. The last partial chunk is copied into a zero-padded buffer (no overread).
#include "kernels/immintrin_wrap.h"

#include <cstring>

#include "kernels/dot_float.h"
#include "kernels/row_tiles.h"

namespace gemmad::kernels {
namespace {

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m256 load(const uint8_t* p) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
};

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int T, typename L>
void row_tokens(const uint8_t* row, const float* x, int64_t n_in, int64_t t0, float* y,
                int64_t ldy) {
  __m256 acc0[T];
  __m256 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
  }
  auto chunk = [&](__m256 w, int64_t i, __m256 * acc) __attribute__((always_inline)) {
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      acc[t] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + (t0 + t) * n_in + i), acc[t]);
    }
  };
  int64_t i = 0;
  for (; i + 16 <= n_in; i += 16) {
    chunk(L::load(row + i * L::kBytes), i, acc0);
    chunk(L::load(row + (i + 8) * L::kBytes), i + 8, acc1);
  }
  if (i + 8 <= n_in) {
    chunk(L::load(row + i * L::kBytes), i, acc0);
    i += 8;
  }
  if (i < n_in) {
    const int64_t n = n_in - i;
    alignas(32) uint8_t wbuf[8 * 4] = {};
    std::memcpy(wbuf, row + i * L::kBytes, static_cast<size_t>(n * L::kBytes));
    const __m256 w = L::load(wbuf);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      alignas(32) float xbuf[8] = {};
      std::memcpy(xbuf, x + (t0 + t) * n_in + i, static_cast<size_t>(n) * sizeof(float));
      acc1[t] = _mm256_fmadd_ps(w, _mm256_load_ps(xbuf), acc1[t]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] = hsum256(_mm256_add_ps(acc0[t], acc1[t]));
}

template <typename L>
void dot_rows(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in,
              int64_t n_tok, float* y, int64_t ldy) {
  row_tiles(w, row_bytes, n_rows, n_tok, y,
            [&](auto tok, const uint8_t* row, int64_t t0, float* yr) {
              row_tokens<tok, L>(row, x, n_in, t0, yr, ldy);
            });
}

}  // namespace

void dot_f32_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                  int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF32>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_f16_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                  int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

void dot_bf16_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                   int64_t n_in, int64_t n_tok, float* y, int64_t ldy) {
  dot_rows<LoadBF16>(w, row_bytes, n_rows, x, n_in, n_tok, y, ldy);
}

}  // namespace gemmad::kernels
