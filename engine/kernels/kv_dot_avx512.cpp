// The dots of attention over widened K/V blocks, AVX-512F (kv_rows.h KvScoreFn /
// KvAccumulateFn): 16-lane FMAs; a row's last partial chunk is loaded under a mask, so every
// key and column sees the same operations however many share a call.
#include "kernels/immintrin_wrap.h"

#include <algorithm>
#include <cmath>

#include "kernels/kv_rows.h"
#include "kernels/kv_score_loop.h"

namespace gemmad::kernels {
namespace {

// out[j] = q . k_j for K consecutive rows of hd floats: two accumulators per key (even and
// odd 16-lane chunks), then one fixed reduction.
template <int K>
inline void dot_keys(const float* q, const float* k, int hd, float* out) {
  __m512 a[K], b[K];
  for (int j = 0; j < K; ++j)
    a[j] = b[j] = _mm512_setzero_ps();
  int i = 0;
  for (; i + 32 <= hd; i += 32) {
    const __m512 q0 = _mm512_loadu_ps(q + i), q1 = _mm512_loadu_ps(q + i + 16);
    for (int j = 0; j < K; ++j) {
      a[j] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(k + int64_t{j} * hd + i), a[j]);
      b[j] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k + int64_t{j} * hd + i + 16), b[j]);
    }
  }
  for (; i < hd; i += 16) {
    const __mmask16 m = static_cast<__mmask16>(hd - i >= 16 ? 0xffff : (1u << (hd - i)) - 1);
    const __m512 q0 = _mm512_maskz_loadu_ps(m, q + i);
    for (int j = 0; j < K; ++j)
      a[j] = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(m, k + int64_t{j} * hd + i), a[j]);
  }
  for (int j = 0; j < K; ++j)
    out[j] = _mm512_reduce_add_ps(_mm512_add_ps(a[j], b[j]));
}

}  // namespace

void kv_score_avx512(const float* q, int nh, int hd, const float* kb, int m, float scale, float* sc,
                     int64_t stride, float* maxes) {
  kv_detail::score_heads(q, nh, hd, kb, m, scale, sc, stride, maxes,
                         []<int K>(const float* qh, const float* k, int n, float* out) {
                           dot_keys<K>(qh, k, n, out);
                         });
}

void kv_accumulate_avx512(const float* p, const float* v, int nb, int n, float* acc) {
  int i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 r0 = _mm512_loadu_ps(acc + i), r1 = _mm512_loadu_ps(acc + i + 16);
    __m512 r2 = _mm512_loadu_ps(acc + i + 32), r3 = _mm512_loadu_ps(acc + i + 48);
    for (int b = 0; b < nb; ++b) {
      const __m512 pb = _mm512_set1_ps(p[b]);
      const float* vr = v + int64_t{b} * n + i;
      r0 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(vr), r0);
      r1 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(vr + 16), r1);
      r2 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(vr + 32), r2);
      r3 = _mm512_fmadd_ps(pb, _mm512_loadu_ps(vr + 48), r3);
    }
    _mm512_storeu_ps(acc + i, r0);
    _mm512_storeu_ps(acc + i + 16, r1);
    _mm512_storeu_ps(acc + i + 32, r2);
    _mm512_storeu_ps(acc + i + 48, r3);
  }
  // Columns left: 16 at a time, then one per element with the same fused multiply-add.
  for (; i + 16 <= n; i += 16) {
    __m512 r = _mm512_loadu_ps(acc + i);
    for (int b = 0; b < nb; ++b)
      r = _mm512_fmadd_ps(_mm512_set1_ps(p[b]), _mm512_loadu_ps(v + int64_t{b} * n + i), r);
    _mm512_storeu_ps(acc + i, r);
  }
  for (; i < n; ++i) {
    for (int b = 0; b < nb; ++b)
      acc[i] = std::fma(p[b], v[int64_t{b} * n + i], acc[i]);
  }
}

}  // namespace gemmad::kernels
