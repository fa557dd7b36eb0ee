// Scalar reference quantisers (docs/GEMMA4.md §3.6): deterministic, nearest-code
// encoders for the types the synthetic-model writer and tests produce. Q8_0 and Q4_0 follow
// ggml's reference rounding; the K-quants and Q2_0 use simple absmax / min-max scales (no
// iterative search), which is enough for synthetic weights and round-trip tests.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "common/fp16.h"
#include "quant/block_layouts.h"
#include "quant/ggml_type.h"

namespace gemmad::quant {
namespace {

using namespace blocks;

// Nearest integer of v clamped to [lo, hi], done in float first so NaN/inf inputs cannot
// make the conversion undefined (NaN goes to lo).
int clamp_round(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= static_cast<float>(lo))) return lo;
  if (r > static_cast<float>(hi)) return hi;
  return static_cast<int>(r);
}

// The element of largest magnitude, keeping its sign (first one on ties).
float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  }
  return best;
}

void store_u16(uint16_t v, uint8_t* p) {
  std::memcpy(p, &v, sizeof v);
}

// Q8_0: d = absmax / 127, q = round(x / d) (ggml reference).
void quant_q8_0(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK8_0, dst += sizeof(BlockQ8_0)) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j)
      amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 out;
    out.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      out.qs[j] = static_cast<int8_t>(clamp_round(x[j] * id, -127, 127));
    }
    std::memcpy(dst, &out, sizeof out);
  }
}

// Q4_0 (ggml reference): d = m / -8 where m is the signed absmax, so m itself maps to code 0
// exactly; code = trunc(x / d + 8.5) clamped to 15, i.e. round-half-up of x/d + 8.
void quant_q4_0(const float* x, uint8_t* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQK4_0, dst += sizeof(BlockQ4_0)) {
    const float m = signed_absmax(x, kQK4_0);
    const float d = m / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 out;
    out.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const auto code = [&](float v) {
        const float t = v * id + 8.5f;
        if (!(t >= 0.0f)) return 0;  // also NaN
        return std::min(15, static_cast<int>(std::min(t, 16.0f)));
      };
      out.qs[j] = static_cast<uint8_t>(code(x[j]) | (code(x[j + kQK4_0 / 2]) << 4));
    }
    std::memcpy(dst, &out, sizeof out);
  }
}

// Q6_K: per 16-element group g a scale s_g = m_g / -32 (m_g the group's signed absmax, so it
// maps to code 0 = -32 exactly); the 16 scales are stored as int8 sc_g with a block scale
// d = max|s_g| / 127; codes are then chosen against the stored d * sc_g.
void quant_q6_k(const float* x, uint8_t* dst, int64_t nb) {
  constexpr int kGroups = kQK_K / 16;
  for (int64_t b = 0; b < nb; ++b, x += kQK_K, dst += sizeof(BlockQ6_K)) {
    float s[kGroups];
    float smax = 0.0f;
    for (int g = 0; g < kGroups; ++g) {
      s[g] = signed_absmax(x + 16 * g, 16) / -32.0f;
      smax = std::max(smax, std::fabs(s[g]));
    }
    BlockQ6_K out;
    const float d_want = smax / 127.0f;
    out.d = fp32_to_fp16(d_want);
    const float d = fp16_to_fp32(out.d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[kQK_K];
    for (int g = 0; g < kGroups; ++g) {
      out.scales[g] = static_cast<int8_t>(clamp_round(s[g] * id, -128, 127));
      const float eff = d * static_cast<float>(out.scales[g]);
      const float ie = eff != 0.0f ? 1.0f / eff : 0.0f;
      for (int j = 0; j < 16; ++j)
        q[16 * g + j] = static_cast<uint8_t>(clamp_round(x[16 * g + j] * ie, -32, 31) + 32);
    }
    // Pack: inverse of the interleaving in dequant_q6_k.
    std::memset(out.ql, 0, sizeof out.ql);
    std::memset(out.qh, 0, sizeof out.qh);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* qq = q + 128 * half;
      uint8_t* ql = out.ql + 64 * half;
      uint8_t* qh = out.qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = qq[l], q2 = qq[l + 32], q3 = qq[l + 64], q4 = qq[l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                     ((q4 >> 4) << 6));
      }
    }
    std::memcpy(dst, &out, sizeof out);
  }
}

// Q4_K: per 32-element group g, value ~ scale_g * q - min_g with q in 0..15, scale_g =
// (max - lo) / 15 and min_g = -lo, where lo = min(0, group min) (mins are stored
// non-negative). Scales and mins are stored as 6-bit integers against d = max scale / 63 and
// dmin = max min / 63; codes are chosen against the stored values.
void quant_q4_k(const float* x, uint8_t* dst, int64_t nb) {
  constexpr int kGroups = kQK_K / 32;
  for (int64_t b = 0; b < nb; ++b, x += kQK_K, dst += sizeof(BlockQ4_K)) {
    float scale[kGroups];
    float mins[kGroups];
    float max_scale = 0.0f;
    float max_min = 0.0f;
    for (int g = 0; g < kGroups; ++g) {
      float lo = 0.0f;
      float hi = 0.0f;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[32 * g + j]);
        hi = std::max(hi, x[32 * g + j]);
      }
      scale[g] = (hi - lo) / 15.0f;
      mins[g] = -lo;
      max_scale = std::max(max_scale, scale[g]);
      max_min = std::max(max_min, mins[g]);
    }
    BlockQ4_K out;
    out.d = fp32_to_fp16(max_scale / 63.0f);
    out.dmin = fp32_to_fp16(max_min / 63.0f);
    const float d = fp16_to_fp32(out.d);
    const float dmin = fp16_to_fp32(out.dmin);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float idmin = dmin != 0.0f ? 1.0f / dmin : 0.0f;
    uint8_t sc[kGroups];
    uint8_t mn[kGroups];
    for (int g = 0; g < kGroups; ++g) {
      // Round the scale up so the group's max stays within code 15 after rounding.
      sc[g] = static_cast<uint8_t>(clamp_round(std::ceil(scale[g] * id), 0, 63));
      mn[g] = static_cast<uint8_t>(clamp_round(mins[g] * idmin, 0, 63));
    }
    // Pack 6-bit scales/mins: inverse of get_scale_min_k4.
    for (int j = 0; j < 4; ++j) {
      out.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
      out.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
      out.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int sub = 0; sub < 2; ++sub) {
        const int g = 2 * chunk + sub;
        const float eff = d * static_cast<float>(sc[g]);
        const float ie = eff != 0.0f ? 1.0f / eff : 0.0f;
        const float m = dmin * static_cast<float>(mn[g]);
        for (int l = 0; l < 32; ++l) {
          const int q = clamp_round((x[32 * g + l] + m) * ie, 0, 15);
          uint8_t& byte = out.qs[32 * chunk + l];
          byte = sub == 0 ? static_cast<uint8_t>((byte & 0xF0) | q)
                          : static_cast<uint8_t>((byte & 0x0F) | (q << 4));
        }
      }
    }
    std::memcpy(dst, &out, sizeof out);
  }
}

// Q2_0: levels (q - 1) * d for q in 0..3, i.e. {-d, 0, d, 2d}. With m the signed absmax,
// d = m / 2 puts m on level 2d; smaller |d| serves the bulk of the values better, so try
// d = m * t / 2 for t in (0, 1] in steps of 1/16 and keep the one of least squared error.
void quant_q2_0(const float* x, uint8_t* dst, int64_t nb) {
  constexpr int kSteps = 16;
  for (int64_t b = 0; b < nb; ++b, x += kQK2_0, dst += sizeof(BlockQ2_0)) {
    const float m = signed_absmax(x, kQK2_0);
    BlockQ2_0 out;
    float best_err = INFINITY;
    uint16_t best_d = 0;
    for (int step = kSteps; step >= 1; --step) {
      const uint16_t dh = fp32_to_fp16(m * static_cast<float>(step) / (2.0f * kSteps));
      const float d = fp16_to_fp32(dh);
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      float err = 0.0f;
      for (int i = 0; i < kQK2_0; ++i) {
        const int q = clamp_round(x[i] * id, -1, 2);
        const float e = x[i] - static_cast<float>(q) * d;
        err += e * e;
      }
      if (err < best_err) {
        best_err = err;
        best_d = dh;
      }
    }
    out.d = best_d;
    const float d = fp16_to_fp32(best_d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    std::memset(out.qs, 0, sizeof out.qs);
    for (int i = 0; i < kQK2_0; ++i) {
      const int q = clamp_round(x[i] * id, -1, 2) + 1;
      out.qs[i / 4] = static_cast<uint8_t>(out.qs[i / 4] | (q << (2 * (i % 4))));
    }
    std::memcpy(dst, &out, sizeof out);
  }
}

}  // namespace

void quantize_row_ref(GgmlType type, const float* src, void* dst_v, int64_t n) {
  auto* dst = static_cast<uint8_t*>(dst_v);
  const TypeTraits& t = traits(type);
  assert(n >= 0 && n % t.block_elems == 0);
  const int64_t nb = n / t.block_elems;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i)
        store_u16(fp32_to_fp16(src[i]), dst + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i)
        store_u16(fp32_to_bf16(src[i]), dst + 2 * i);
      return;
    case GgmlType::kQ8_0:
      quant_q8_0(src, dst, nb);
      return;
    case GgmlType::kQ4_0:
      quant_q4_0(src, dst, nb);
      return;
    case GgmlType::kQ6_K:
      quant_q6_k(src, dst, nb);
      return;
    case GgmlType::kQ4_K:
      quant_q4_k(src, dst, nb);
      return;
    case GgmlType::kQ2_0:
      quant_q2_0(src, dst, nb);
      return;
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_1:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ8_K:
    case GgmlType::kI8:
    case GgmlType::kI16:
    case GgmlType::kI32:
    case GgmlType::kI64:
    case GgmlType::kF64:
    case GgmlType::kQ1_0:
    case GgmlType::kGQ2:
    case GgmlType::kGQ4:
    case GgmlType::kGQ8:
      break;
  }
  // Callers check can_quantize() first; reaching here is a programmer error.
  assert(false && "quantize_row_ref: type has no quantiser");
  std::memset(dst, 0, static_cast<size_t>(nb) * t.block_bytes);
}

}  // namespace gemmad::quant
