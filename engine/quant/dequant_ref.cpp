// Scalar reference dequantisation of every computable ggml type (docs/GEMMA4.md §3.6).
// This is the definition of each format for the engine: SIMD kernels are tested against it.
#include <cassert>
#include <cstring>

#include "common/fp16.h"
#include "quant/block_layouts.h"
#include "quant/ggml_type.h"

namespace gemmad::quant {
namespace {

using namespace blocks;

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void dequant_q4_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += sizeof(BlockQ4_0), dst += kQK4_0) {
    BlockQ4_0 x;
    std::memcpy(&x, src, sizeof x);
    const float d = fp16_to_fp32(x.d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      dst[j] = static_cast<float>((x.qs[j] & 0xF) - 8) * d;
      dst[j + kQK4_0 / 2] = static_cast<float>((x.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q8_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += sizeof(BlockQ8_0), dst += kQK8_0) {
    BlockQ8_0 x;
    std::memcpy(&x, src, sizeof x);
    const float d = fp16_to_fp32(x.d);
    for (int j = 0; j < kQK8_0; ++j)
      dst[j] = static_cast<float>(x.qs[j]) * d;
  }
}

// Four 64-element chunks; chunk c uses the nibbles of qs[32c..32c+32): low nibbles with
// scale/min 2c, high nibbles with 2c+1.
void dequant_q4_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += sizeof(BlockQ4_K)) {
    BlockQ4_K x;
    std::memcpy(&x, src, sizeof x);
    const float d = fp16_to_fp32(x.d);
    const float dmin = fp16_to_fp32(x.dmin);
    const uint8_t* q = x.qs;
    for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
      uint8_t sc = 0;
      uint8_t m = 0;
      get_scale_min_k4(2 * chunk, x.scales, &sc, &m);
      const float d1 = d * sc;
      const float m1 = dmin * m;
      get_scale_min_k4(2 * chunk + 1, x.scales, &sc, &m);
      const float d2 = d * sc;
      const float m2 = dmin * m;
      for (int l = 0; l < 32; ++l)
        *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l)
        *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Two 128-element halves; in half h, element l (0..31) of each quarter k (0..3) takes its
// low 4 bits from ql[64h + l + 32(k&1)] (low nibble for k<2, high for k>=2) and its high 2
// bits from qh[32h + l] bits 2k..2k+1; scale index 8h + l/16 + 2k.
void dequant_q6_k(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += sizeof(BlockQ6_K)) {
    BlockQ6_K x;
    std::memcpy(&x, src, sizeof x);
    const float d = fp16_to_fp32(x.d);
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* ql = x.ql + 64 * half;
      const uint8_t* qh = x.qh + 32 * half;
      const int8_t* sc = x.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequant_q2_0(const uint8_t* src, float* dst, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, src += sizeof(BlockQ2_0), dst += kQK2_0) {
    BlockQ2_0 x;
    std::memcpy(&x, src, sizeof x);
    const float d = fp16_to_fp32(x.d);
    for (int i = 0; i < kQK2_0; ++i) {
      const int q = (x.qs[i / 4] >> (2 * (i % 4))) & 3;
      dst[i] = static_cast<float>(q - 1) * d;
    }
  }
}

}  // namespace

void dequantize_row_ref(GgmlType type, const void* src_v, float* dst, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(src_v);
  const TypeTraits& t = traits(type);
  assert(n >= 0 && n % t.block_elems == 0);
  const int64_t nb = n / t.block_elems;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i)
        dst[i] = fp16_to_fp32(load_u16(src + 2 * i));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i)
        dst[i] = bf16_to_fp32(load_u16(src + 2 * i));
      return;
    case GgmlType::kQ4_0:
      dequant_q4_0(src, dst, nb);
      return;
    case GgmlType::kQ8_0:
      dequant_q8_0(src, dst, nb);
      return;
    case GgmlType::kQ4_K:
      dequant_q4_k(src, dst, nb);
      return;
    case GgmlType::kQ6_K:
      dequant_q6_k(src, dst, nb);
      return;
    case GgmlType::kQ2_0:
      dequant_q2_0(src, dst, nb);
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
  // Callers check traits().computable first; reaching here is a programmer error.
  assert(false && "dequantize_row_ref: type is not computable");
  std::memset(dst, 0, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace gemmad::quant
