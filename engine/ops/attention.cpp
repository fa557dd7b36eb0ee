// Grouped-query attention over runs of cached positions, two-pass softmax in f32.
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "common/fp16.h"
#include "kernels/kernel_table.h"
#include "ops/rms_norm.h"
#include "ops/vec4.h"

namespace gemmad::ops {
namespace {

// Keys per block: the f32 copy of a block of K (and then V) stays in L1 (32 KiB) for the dots
// of all heads of the group: 32 keys up to head dim 256, 16 at 512. At 32 x 512 the copy
// (64 KiB) spilled to L2 and decode attention at 4,096 positions ran 2-6x slower
// (bench/attention_bench). Per-key and per-column arithmetic does not depend on the block
// size, so it changes no result.
constexpr int kMaxBlock = 32;
inline int block_rows(int head_dim) {
  return std::clamp(8192 / std::max(head_dim, 1), 4, kMaxBlock);
}

const kernels::KvKernels& kv_kernels() {
  return kernels::kernel_table(kernels::active_kernel_set()).kv;
}

// dst[r][0..width) = row r of `base` (rows of a.row_stride elements) from element `offset`,
// widened by the active set's kernel for a.elem; `scale` is the static scale of kQ8Static.
void load_rows(const AttentionArgs& a, float scale, const uint8_t* base, int64_t offset, int n_rows,
               int width, float* dst) {
  const int64_t rb = kv_row_bytes(a.elem, a.row_stride);
  const uint8_t* p = base + kv_row_bytes(a.elem, offset);
  if (a.elem == KvElem::kF32) {
    for (int r = 0; r < n_rows; ++r)
      std::memcpy(dst + r * width, p + r * rb, sizeof(float) * width);
    return;
  }
  const kernels::KvKernels& kv = kv_kernels();
  kernels::KvWidenFn fn = a.elem == KvElem::kF16  ? kv.f16
                          : a.elem == KvElem::kQ8 ? kv.q8
                          : a.elem == KvElem::kQ4 ? kv.q4
                                                  : kv.q8s;
  for (int r = 0; r < n_rows; ++r)
    fn(p + r * rb, width, scale, dst + r * width);
}

// out[j] = dot(q, k + j * n, n) for 4 consecutive rows of k, each summed exactly as dot()
// does (lanes l, l + 8, ...; then the 8 lanes in order), but interleaved so that 8 independent
// accumulators hide the add latency.
void dot4(const float* q, const float* k, int n, float* out) {
  using vec::F4;
  const float* k0 = k;
  const float* k1 = k + n;
  const float* k2 = k + 2 * n;
  const float* k3 = k + 3 * n;
  F4 a0 = vec::splat(0.0f), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const F4 q0 = vec::load(q + i), q1 = vec::load(q + i + 4);
    a0 += q0 * vec::load(k0 + i);
    b0 += q1 * vec::load(k0 + i + 4);
    a1 += q0 * vec::load(k1 + i);
    b1 += q1 * vec::load(k1 + i + 4);
    a2 += q0 * vec::load(k2 + i);
    b2 += q1 * vec::load(k2 + i + 4);
    a3 += q0 * vec::load(k3 + i);
    b3 += q1 * vec::load(k3 + i + 4);
  }
  for (; i < n; ++i) {
    a0[0] += q[i] * k0[i];
    a1[0] += q[i] * k1[i];
    a2[0] += q[i] * k2[i];
    a3[0] += q[i] * k3[i];
  }
  auto sum = [](F4 x, F4 y) {
    return ((x[0] + x[1]) + (x[2] + x[3])) + ((y[0] + y[1]) + (y[2] + y[3]));
  };
  out[0] = sum(a0, b0);
  out[1] = sum(a1, b1);
  out[2] = sum(a2, b2);
  out[3] = sum(a3, b3);
}

}  // namespace

// acc[0..n) += sum over rows b < nb of p[b] * v[b][0..n), adding the rows in order. Columns
// are held in registers 16 at a time across all rows (acc is loaded and stored once per
// block, not once per row); each element sees the same additions as a row-by-row loop.
void accumulate_rows_portable(const float* p, const float* v, int nb, int n, float* acc) {
  using vec::F4;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    F4 r0 = vec::load(acc + i), r1 = vec::load(acc + i + 4);
    F4 r2 = vec::load(acc + i + 8), r3 = vec::load(acc + i + 12);
    for (int b = 0; b < nb; ++b) {
      const F4 pb = vec::splat(p[b]);
      const float* vr = v + static_cast<int64_t>(b) * n + i;
      r0 += pb * vec::load(vr);
      r1 += pb * vec::load(vr + 4);
      r2 += pb * vec::load(vr + 8);
      r3 += pb * vec::load(vr + 12);
    }
    vec::store(acc + i, r0);
    vec::store(acc + i + 4, r1);
    vec::store(acc + i + 8, r2);
    vec::store(acc + i + 12, r3);
  }
  for (; i < n; ++i) {
    for (int b = 0; b < nb; ++b)
      acc[i] += p[b] * v[static_cast<int64_t>(b) * n + i];
  }
}

namespace {

// Visits the blocks of keys [lo, hi) (indices into the concatenated segments), in order:
// fn(first key index, rows, pointer to the first row's K or V element bytes).
template <typename F>
void for_blocks(std::span<const KvSegment> segments, int64_t lo, int64_t hi, bool values,
                int64_t row_bytes, int block, F&& fn) {
  int64_t base = 0;
  for (const KvSegment& seg : segments) {
    const int64_t from = std::max<int64_t>(lo - base, 0);
    const int64_t to = std::min<int64_t>(hi - base, seg.n);
    for (int64_t b0 = from; b0 < to; b0 += block) {
      const int nb = static_cast<int>(std::min<int64_t>(block, to - b0));
      const auto* rows = static_cast<const uint8_t*>(values ? seg.v : seg.k) + b0 * row_bytes;
      fn(base + b0, nb, rows);
    }
    base += seg.n;
  }
}

}  // namespace

// Scores of m widened keys for the heads of q: sc[h * stride + b] = scale * q_h · k_b, and
// each head's running maximum.
void score_keys_portable(const float* q, int nh, int hd, const float* kb, int m, float scale,
                         float* sc, int64_t stride, float* maxes) {
  for (int h = 0; h < nh; ++h) {
    const float* qh = q + static_cast<int64_t>(h) * hd;
    float* sh = sc + h * stride;
    int b = 0;
    for (; b + 4 <= m; b += 4)
      dot4(qh, kb + static_cast<int64_t>(b) * hd, hd, sh + b);
    for (; b < m; ++b)
      sh[b] = dot(qh, kb + static_cast<int64_t>(b) * hd, hd);
    for (b = 0; b < m; ++b) {
      sh[b] *= scale;
      maxes[h] = std::max(maxes[h], sh[b]);
    }
  }
}

namespace {

// The active set's score / accumulate kernels, or the portable twins above.
void score_keys(const float* q, int nh, int hd, const float* kb, int m, float scale, float* sc,
                int64_t stride, float* maxes) {
  const kernels::KvScoreFn fn = kv_kernels().score;
  (fn ? fn : score_keys_portable)(q, nh, hd, kb, m, scale, sc, stride, maxes);
}
void accumulate_rows(const float* p, const float* v, int nb, int n, float* acc) {
  const kernels::KvAccumulateFn fn = kv_kernels().accumulate;
  (fn ? fn : accumulate_rows_portable)(p, v, nb, n, acc);
}

// Softmax numerators e^(s - max) (exponents <= 0) of n scores in place; returns their sum,
// added in position order.
float exp_and_sum(float* sc, int64_t n, float max) {
  const vec::F4 mx = vec::splat(max);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vec::store(sc + i, vec::exp_neg(vec::load(sc + i) - mx));
  for (; i < n; ++i)
    sc[i] = vec::exp_neg(vec::splat(sc[i] - max))[0];
  float sum = 0.0f;
  for (i = 0; i < n; ++i)
    sum += sc[i];
  return sum;
}

}  // namespace

void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vec::store(dst + i, vec::f16_to_f32(src + i));
  for (; i < n; ++i)
    dst[i] = fp16_to_fp32(src[i]);
}

void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = fp32_to_fp16(src[i]);
}

void attend(const AttentionArgs& a, std::span<const KvSegment> segments, AttentionScratch& s) {
  int64_t n_keys = 0;
  for (const KvSegment& seg : segments)
    n_keys += seg.n;
  const AttentionQuery one{a.q, a.out, 0, n_keys};
  attend_multi(a, segments, {&one, 1}, s);
}

void attend_multi(const AttentionArgs& a, std::span<const KvSegment> segments,
                  std::span<const AttentionQuery> queries, AttentionScratch& s) {
  const int hd = a.head_dim;
  const int nh = a.n_heads;
  const size_t nq = queries.size();
  // Scores of query j, head h: s.scores[score_offset[j] + h * n_j + key - key_begin_j].
  s.score_offset.resize(nq);
  int64_t total = 0, lo = INT64_MAX, hi = 0;
  for (size_t j = 0; j < nq; ++j) {
    s.score_offset[j] = total;
    total += nh * std::max<int64_t>(queries[j].key_end - queries[j].key_begin, 0);
    lo = std::min(lo, queries[j].key_begin);
    hi = std::max(hi, queries[j].key_end);
  }
  s.k_block.resize(static_cast<size_t>(block_rows(hd)) * hd);
  s.v_block.resize(static_cast<size_t>(block_rows(hd)) * hd);
  s.scores.resize(std::max<int64_t>(total, 1));
  s.acc.assign(nq * nh * hd, 0.0f);
  s.row_max.assign(nq * nh, -std::numeric_limits<float>::infinity());
  s.row_sum.assign(nq * nh, 0.0f);
  const int64_t rb = kv_row_bytes(a.elem, a.row_stride);

  // Pass 1: scores and each head's maximum.
  for_blocks(
      segments, lo, hi, false, rb, block_rows(hd), [&](int64_t g0, int nb, const uint8_t* rows) {
        load_rows(a, a.k_scale, rows, a.kv_offset, nb, hd, s.k_block.data());
        for (size_t j = 0; j < nq; ++j) {
          const AttentionQuery& qj = queries[j];
          const int64_t k0 = std::max(g0, qj.key_begin), k1 = std::min(g0 + nb, qj.key_end);
          if (k0 >= k1) continue;
          const int64_t n_j = qj.key_end - qj.key_begin;
          score_keys(qj.q, nh, hd, s.k_block.data() + (k0 - g0) * hd, static_cast<int>(k1 - k0),
                     a.scale, s.scores.data() + s.score_offset[j] + (k0 - qj.key_begin), n_j,
                     s.row_max.data() + j * nh);
        }
      });
  // Pass 2: softmax numerators and their sums.
  for (size_t j = 0; j < nq; ++j) {
    const int64_t n_j = std::max<int64_t>(queries[j].key_end - queries[j].key_begin, 0);
    for (int h = 0; h < nh; ++h) {
      s.row_sum[j * nh + h] =
          exp_and_sum(s.scores.data() + s.score_offset[j] + h * n_j, n_j, s.row_max[j * nh + h]);
    }
  }
  // Pass 3: weighted sum of V.
  for_blocks(
      segments, lo, hi, true, rb, block_rows(hd), [&](int64_t g0, int nb, const uint8_t* rows) {
        load_rows(a, a.v_scale, rows, a.kv_offset, nb, hd, s.v_block.data());
        for (size_t j = 0; j < nq; ++j) {
          const AttentionQuery& qj = queries[j];
          const int64_t k0 = std::max(g0, qj.key_begin), k1 = std::min(g0 + nb, qj.key_end);
          if (k0 >= k1) continue;
          const int64_t n_j = qj.key_end - qj.key_begin;
          for (int h = 0; h < nh; ++h) {
            const float* p = s.scores.data() + s.score_offset[j] + h * n_j + (k0 - qj.key_begin);
            float* acc = s.acc.data() + (j * nh + h) * hd;
            accumulate_rows(p, s.v_block.data() + (k0 - g0) * hd, static_cast<int>(k1 - k0), hd,
                            acc);
          }
        }
      });
  for (size_t j = 0; j < nq; ++j) {
    for (int h = 0; h < nh; ++h) {
      float* out = queries[j].out + static_cast<int64_t>(h) * hd;
      const float* acc = s.acc.data() + (j * nh + h) * hd;
      const float sum = s.row_sum[j * nh + h];
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      for (int i = 0; i < hd; ++i)
        out[i] = acc[i] * inv;
    }
  }
}

void attention_scores(const AttentionArgs& a, std::span<const KvSegment> segments, int64_t k0,
                      int64_t k1, float* scores, int64_t stride, float* maxes,
                      AttentionScratch& s) {
  const int hd = a.head_dim;
  s.k_block.resize(static_cast<size_t>(block_rows(hd)) * hd);
  for (int h = 0; h < a.n_heads; ++h)
    maxes[h] = -std::numeric_limits<float>::infinity();
  const int64_t rb = kv_row_bytes(a.elem, a.row_stride);
  for_blocks(
      segments, k0, k1, false, rb, block_rows(hd), [&](int64_t g0, int nb, const uint8_t* rows) {
        load_rows(a, a.k_scale, rows, a.kv_offset, nb, hd, s.k_block.data());
        score_keys(a.q, a.n_heads, hd, s.k_block.data(), nb, a.scale, scores + g0, stride, maxes);
      });
}

void attention_softmax(float* scores, int n_heads, int64_t n, int64_t stride, const float* maxes,
                       float* sums) {
  for (int h = 0; h < n_heads; ++h)
    sums[h] = exp_and_sum(scores + h * stride, n, maxes[h]);
}

void attention_values(const AttentionArgs& a, std::span<const KvSegment> segments, int64_t n_keys,
                      const float* weights, int64_t stride, const float* sums, int c0, int c1,
                      AttentionScratch& s) {
  const int hd = a.head_dim, w = c1 - c0, nh = a.n_heads;
  if (w <= 0) return;
  s.v_block.resize(static_cast<size_t>(block_rows(hd)) * w);
  s.acc.assign(static_cast<size_t>(nh) * w, 0.0f);
  const int64_t rb = kv_row_bytes(a.elem, a.row_stride);
  for_blocks(
      segments, 0, n_keys, true, rb, block_rows(hd), [&](int64_t g0, int nb, const uint8_t* rows) {
        load_rows(a, a.v_scale, rows, a.kv_offset + c0, nb, w, s.v_block.data());
        for (int h = 0; h < nh; ++h) {
          accumulate_rows(weights + h * stride + g0, s.v_block.data(), nb, w, s.acc.data() + h * w);
        }
      });
  for (int h = 0; h < nh; ++h) {
    float* out = a.out + static_cast<int64_t>(h) * hd + c0;
    const float* acc = s.acc.data() + h * w;
    const float inv = sums[h] > 0.0f ? 1.0f / sums[h] : 0.0f;
    for (int i = 0; i < w; ++i)
      out[i] = acc[i] * inv;
  }
}

}  // namespace gemmad::ops
