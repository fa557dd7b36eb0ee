// Grouped-query attention over runs of cached positions, two-pass softmax in f32.
#include "ops/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/fp16.h"
#include "ops/rms_norm.h"

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

}  // namespace

void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n) {
  // Branch-free widening: shifting the 15 magnitude bits into a float's exponent/mantissa
  // field and multiplying by 2^112 re-biases the exponent (15 -> 127) and handles half
  // subnormals exactly (they become float subnormals scaled into range). Inf/NaN (exponent
  // 31) are fixed up by a select.
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = src[i];
    const uint32_t sign = (h & 0x8000u) << 16;
    const uint32_t mag = h & 0x7fffu;
    const float scaled = std::bit_cast<float>(mag << 13) * 0x1p112f;
    const uint32_t finite = std::bit_cast<uint32_t>(scaled);
    const uint32_t special = 0x7f800000u | ((mag & 0x3ffu) << 13);
    dst[i] = std::bit_cast<float>(sign | (mag >= 0x7c00u ? special : finite));
  }
}

void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = fp32_to_fp16(src[i]);
}

void attend(const AttentionArgs& a, std::span<const KvSegment> segments, AttentionScratch& s) {
  const int hd = a.head_dim;
  const int nh = a.n_heads;
  int64_t n_keys = 0;
  for (const KvSegment& seg : segments)
    n_keys += seg.n;
  s.k_block.resize(static_cast<size_t>(kBlock) * hd);
  s.v_block.resize(static_cast<size_t>(kBlock) * hd);
  s.scores.resize(static_cast<size_t>(nh) * std::max<int64_t>(n_keys, 1));
  s.acc.assign(static_cast<size_t>(nh) * hd, 0.0f);
  s.row_max.assign(nh, -std::numeric_limits<float>::infinity());
  s.row_sum.assign(nh, 0.0f);
  float* scores = s.scores.data();  // [nh][n_keys]
  float* acc = s.acc.data();
  const size_t elem_bytes = a.elem == KvElem::kF16 ? 2 : 4;

  // Two passes in position order, so the result does not depend on how the positions are
  // split into runs (a batch and a step see the same keys in different runs): first every
  // score and each head's maximum, then softmax weights, then the weighted sum of V.
  int64_t base = 0;
  for (const KvSegment& seg : segments) {
    for (int32_t b0 = 0; b0 < seg.n; b0 += kBlock) {
      const int nb = std::min<int32_t>(kBlock, seg.n - b0);
      const auto* kb =
          static_cast<const uint8_t*>(seg.k) + static_cast<int64_t>(b0) * a.row_stride * elem_bytes;
      load_rows(a.elem, kb, a.row_stride, a.kv_offset, nb, hd, s.k_block.data());
      for (int h = 0; h < nh; ++h) {
        const float* qh = a.q + static_cast<int64_t>(h) * hd;
        float* sc = scores + h * n_keys + base + b0;
        for (int b = 0; b < nb; ++b) {
          sc[b] = dot(qh, s.k_block.data() + static_cast<int64_t>(b) * hd, hd) * a.scale;
          s.row_max[h] = std::max(s.row_max[h], sc[b]);
        }
      }
    }
    base += seg.n;
  }
  for (int h = 0; h < nh; ++h) {
    float* sc = scores + h * n_keys;
    float sum = 0.0f;
    for (int64_t i = 0; i < n_keys; ++i) {
      sc[i] = std::exp(sc[i] - s.row_max[h]);
      sum += sc[i];
    }
    s.row_sum[h] = sum;
  }
  base = 0;
  for (const KvSegment& seg : segments) {
    for (int32_t b0 = 0; b0 < seg.n; b0 += kBlock) {
      const int nb = std::min<int32_t>(kBlock, seg.n - b0);
      const auto* vb =
          static_cast<const uint8_t*>(seg.v) + static_cast<int64_t>(b0) * a.row_stride * elem_bytes;
      load_rows(a.elem, vb, a.row_stride, a.kv_offset, nb, hd, s.v_block.data());
      for (int h = 0; h < nh; ++h) {
        const float* p = scores + h * n_keys + base + b0;
        float* acc_h = acc + static_cast<int64_t>(h) * hd;
        for (int b = 0; b < nb; ++b) {
          const float* vr = s.v_block.data() + static_cast<int64_t>(b) * hd;
          for (int i = 0; i < hd; ++i)
            acc_h[i] += p[b] * vr[i];
        }
      }
    }
    base += seg.n;
  }
  for (int h = 0; h < nh; ++h) {
    float* out_h = a.out + static_cast<int64_t>(h) * hd;
    const float* acc_h = acc + static_cast<int64_t>(h) * hd;
    const float inv = s.row_sum[h] > 0.0f ? 1.0f / s.row_sum[h] : 0.0f;
    for (int i = 0; i < hd; ++i)
      out_h[i] = acc_h[i] * inv;
  }
}

}  // namespace gemmad::ops
