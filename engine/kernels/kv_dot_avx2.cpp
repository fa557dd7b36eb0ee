// The dots of attention over widened K/V blocks, AVX2 + FMA (kv_rows.h KvScoreFn /
// KvAccumulateFn): 8-lane FMAs; a row's last partial chunk goes through a zero-padded copy,
// so every key and column sees the same operations however many share a call.
#include "kernels/immintrin_wrap.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/kv_rows.h"
#include "kernels/kv_score_loop.h"

namespace gemmad::kernels {
namespace {

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_partial(const float* p, int n) {
  alignas(32) float buf[8] = {};
  std::memcpy(buf, p, sizeof(float) * static_cast<size_t>(n));
  return _mm256_load_ps(buf);
}

// out[j] = q . k_j for K consecutive rows of hd floats: two accumulators per key (even and
// odd 8-lane chunks), then one fixed reduction.
template <int K>
inline void dot_keys(const float* q, const float* k, int hd, float* out) {
  __m256 a[K], b[K];
  for (int j = 0; j < K; ++j)
    a[j] = b[j] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= hd; i += 16) {
    const __m256 q0 = _mm256_loadu_ps(q + i), q1 = _mm256_loadu_ps(q + i + 8);
    for (int j = 0; j < K; ++j) {
      a[j] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k + int64_t{j} * hd + i), a[j]);
      b[j] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k + int64_t{j} * hd + i + 8), b[j]);
    }
  }
  for (; i < hd; i += 8) {
    const int w = std::min(8, hd - i);
    const __m256 q0 = w == 8 ? _mm256_loadu_ps(q + i) : load_partial(q + i, w);
    for (int j = 0; j < K; ++j) {
      const float* kj = k + int64_t{j} * hd + i;
      a[j] = _mm256_fmadd_ps(q0, w == 8 ? _mm256_loadu_ps(kj) : load_partial(kj, w), a[j]);
    }
  }
  for (int j = 0; j < K; ++j)
    out[j] = hsum256(_mm256_add_ps(a[j], b[j]));
}

}  // namespace

void kv_score_avx2(const float* q, int nh, int hd, const float* kb, int m, float scale, float* sc,
                   int64_t stride, float* maxes) {
  kv_detail::score_heads(q, nh, hd, kb, m, scale, sc, stride, maxes,
                         []<int K>(const float* qh, const float* k, int n, float* out) {
                           dot_keys<K>(qh, k, n, out);
                         });
}

void kv_accumulate_avx2(const float* p, const float* v, int nb, int n, float* acc) {
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 r0 = _mm256_loadu_ps(acc + i), r1 = _mm256_loadu_ps(acc + i + 8);
    __m256 r2 = _mm256_loadu_ps(acc + i + 16), r3 = _mm256_loadu_ps(acc + i + 24);
    for (int b = 0; b < nb; ++b) {
      const __m256 pb = _mm256_set1_ps(p[b]);
      const float* vr = v + int64_t{b} * n + i;
      r0 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vr), r0);
      r1 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vr + 8), r1);
      r2 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vr + 16), r2);
      r3 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(vr + 24), r3);
    }
    _mm256_storeu_ps(acc + i, r0);
    _mm256_storeu_ps(acc + i + 8, r1);
    _mm256_storeu_ps(acc + i + 16, r2);
    _mm256_storeu_ps(acc + i + 24, r3);
  }
  // Columns left: 8 at a time, then one per element with the same fused multiply-add.
  for (; i + 8 <= n; i += 8) {
    __m256 r = _mm256_loadu_ps(acc + i);
    for (int b = 0; b < nb; ++b)
      r = _mm256_fmadd_ps(_mm256_set1_ps(p[b]), _mm256_loadu_ps(v + int64_t{b} * n + i), r);
    _mm256_storeu_ps(acc + i, r);
  }
  for (; i < n; ++i) {
    for (int b = 0; b < nb; ++b)
      acc[i] = std::fma(p[b], v[int64_t{b} * n + i], acc[i]);
  }
}

}  // namespace gemmad::kernels
