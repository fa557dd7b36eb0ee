// Grouped-query attention over runs of cached positions, two-pass softmax in f32.
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "common/fp16.h"
#include "ops/rms_norm.h"
#include "ops/vec4.h"

namespace gemmad::ops {
namespace {

// Keys per block: the f32 copy of a block of K (and then V) stays in L1 for the dots of all
// heads of the group (32 x 512 x 4 B = 64 KiB at the largest head size).
constexpr int kBlock = 32;

void load_rows(KvElem elem, const void* base, int64_t row_stride, int64_t offset, int n_rows,
               int head_dim, float* dst) {
  switch (elem) {
    case KvElem::kF16: {
      const auto* p = static_cast<const uint16_t*>(base) + offset;
      for (int r = 0; r < n_rows; ++r)
        f16_to_f32_row(p + r * row_stride, dst + r * head_dim, head_dim);
      return;
    }
    case KvElem::kF32: {
      const auto* p = static_cast<const float*>(base) + offset;
      for (int r = 0; r < n_rows; ++r) {
        std::memcpy(dst + r * head_dim, p + r * row_stride, sizeof(float) * head_dim);
      }
      return;
    }
  }
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

// acc[0..n) += sum over rows b < nb of p[b] * v[b][0..n), adding the rows in order. Columns
// are held in registers 16 at a time across all rows (acc is loaded and stored once per
// block, not once per row); each element sees the same additions as a row-by-row loop.
void accumulate_rows(const float* p, const float* v, int nb, int n, float* acc) {
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
  s.k_block.resize(static_cast<size_t>(kBlock) * hd);
  s.v_block.resize(static_cast<size_t>(kBlock) * hd);
  s.scores.resize(std::max<int64_t>(total, 1));
  s.acc.assign(nq * nh * hd, 0.0f);
  s.row_max.assign(nq * nh, -std::numeric_limits<float>::infinity());
  s.row_sum.assign(nq * nh, 0.0f);
  const size_t elem_bytes = a.elem == KvElem::kF16 ? 2 : 4;

  // Visits the blocks of keys in [lo, hi), in order: fn(first key index, rows, K or V bytes).
  auto for_blocks = [&](bool values, auto&& fn) {
    int64_t base = 0;
    for (const KvSegment& seg : segments) {
      const int64_t from = std::max<int64_t>(lo - base, 0);
      const int64_t to = std::min<int64_t>(hi - base, seg.n);
      for (int64_t b0 = from; b0 < to; b0 += kBlock) {
        const int nb = static_cast<int>(std::min<int64_t>(kBlock, to - b0));
        const auto* rows = static_cast<const uint8_t*>(values ? seg.v : seg.k) +
                           b0 * a.row_stride * static_cast<int64_t>(elem_bytes);
        fn(base + b0, nb, rows);
      }
      base += seg.n;
    }
  };

  // Pass 1: scores and each head's maximum.
  for_blocks(false, [&](int64_t g0, int nb, const uint8_t* rows) {
    load_rows(a.elem, rows, a.row_stride, a.kv_offset, nb, hd, s.k_block.data());
    for (size_t j = 0; j < nq; ++j) {
      const AttentionQuery& qj = queries[j];
      const int64_t k0 = std::max(g0, qj.key_begin), k1 = std::min(g0 + nb, qj.key_end);
      if (k0 >= k1) continue;
      const int64_t n_j = qj.key_end - qj.key_begin;
      const float* kb = s.k_block.data() + (k0 - g0) * hd;
      const int m = static_cast<int>(k1 - k0);
      for (int h = 0; h < nh; ++h) {
        const float* qh = qj.q + static_cast<int64_t>(h) * hd;
        float* sc = s.scores.data() + s.score_offset[j] + h * n_j + (k0 - qj.key_begin);
        int b = 0;
        for (; b + 4 <= m; b += 4)
          dot4(qh, kb + static_cast<int64_t>(b) * hd, hd, sc + b);
        for (; b < m; ++b)
          sc[b] = dot(qh, kb + static_cast<int64_t>(b) * hd, hd);
        float& mx = s.row_max[j * nh + h];
        for (b = 0; b < m; ++b) {
          sc[b] *= a.scale;
          mx = std::max(mx, sc[b]);
        }
      }
    }
  });
  // Pass 2: softmax weights e^(s - max) (exponents <= 0), summed in position order.
  for (size_t j = 0; j < nq; ++j) {
    const int64_t n_j = std::max<int64_t>(queries[j].key_end - queries[j].key_begin, 0);
    for (int h = 0; h < nh; ++h) {
      float* sc = s.scores.data() + s.score_offset[j] + h * n_j;
      const float m = s.row_max[j * nh + h];
      const vec::F4 mx = vec::splat(m);
      int64_t i = 0;
      for (; i + 4 <= n_j; i += 4)
        vec::store(sc + i, vec::exp_neg(vec::load(sc + i) - mx));
      for (; i < n_j; ++i)
        sc[i] = vec::exp_neg(vec::splat(sc[i] - m))[0];
      float sum = 0.0f;
      for (i = 0; i < n_j; ++i)
        sum += sc[i];
      s.row_sum[j * nh + h] = sum;
    }
  }
  // Pass 3: weighted sum of V.
  for_blocks(true, [&](int64_t g0, int nb, const uint8_t* rows) {
    load_rows(a.elem, rows, a.row_stride, a.kv_offset, nb, hd, s.v_block.data());
    for (size_t j = 0; j < nq; ++j) {
      const AttentionQuery& qj = queries[j];
      const int64_t k0 = std::max(g0, qj.key_begin), k1 = std::min(g0 + nb, qj.key_end);
      if (k0 >= k1) continue;
      const int64_t n_j = qj.key_end - qj.key_begin;
      for (int h = 0; h < nh; ++h) {
        const float* p = s.scores.data() + s.score_offset[j] + h * n_j + (k0 - qj.key_begin);
        float* acc = s.acc.data() + (j * nh + h) * hd;
        accumulate_rows(p, s.v_block.data() + (k0 - g0) * hd, static_cast<int>(k1 - k0), hd, acc);
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

}  // namespace gemmad::ops
