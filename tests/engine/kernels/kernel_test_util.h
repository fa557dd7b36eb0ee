// Helpers for the kernel tests: random weight rows of every type with sane scales, dequantised
// magnitudes, and the quantised activations in natural order.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/fp16.h"
#include "kernels/act_q8.h"
#include "kernels/kernel_table.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels::testing {

using quant::GgmlType;

inline void put_f16(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// n_out rows of n_in values of `type`: random code bytes (every bit pattern) with fp16 scales
// drawn from +-[0.001, 0.1] so no scale is inf/NaN. Stored at data() + offset, so tests can
// make the rows unaligned.
inline std::vector<uint8_t> random_rows(GgmlType type, int64_t n_in, int64_t n_out, uint64_t seed,
                                        size_t offset, uint64_t* row_bytes) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> mag(0.001f, 0.1f);
  auto scale = [&] { return (rng() & 1) ? mag(rng) : -mag(rng); };
  *row_bytes = quant::row_bytes(type, static_cast<uint64_t>(n_in)).value();
  std::vector<uint8_t> buf(offset + *row_bytes * static_cast<uint64_t>(n_out) + 1);
  for (auto& b : buf)
    b = static_cast<uint8_t>(rng());
  const auto& tr = quant::traits(type);
  for (int64_t r = 0; r < n_out; ++r) {
    uint8_t* row = buf.data() + offset + r * *row_bytes;
    for (int64_t i = 0; i < n_in; ++i) {
      const float v = scale() * 10.0f;
      if (type == GgmlType::kF32) std::memcpy(row + 4 * i, &v, 4);
      if (type == GgmlType::kF16) put_f16(row + 2 * i, v);
      if (type == GgmlType::kBF16) {
        const uint16_t h = fp32_to_bf16(v);
        std::memcpy(row + 2 * i, &h, 2);
      }
    }
    // Block scales: where each layout keeps its fp16 d (and dmin).
    for (int64_t b = 0; b < n_in / tr.block_elems; ++b) {
      uint8_t* blk = row + b * tr.block_bytes;
      if (type == GgmlType::kQ4_0 || type == GgmlType::kQ8_0 || type == GgmlType::kQ2_0) {
        put_f16(blk, scale());
      } else if (type == GgmlType::kQ4_K) {
        put_f16(blk, scale());
        put_f16(blk + 2, scale());
      } else if (type == GgmlType::kQ6_K) {
        put_f16(blk + 208, scale() * 0.1f);
      }
    }
  }
  return buf;
}

// sum_i |W[o][i]| * |x[i]| with W dequantised by the reference (the scale of rounding errors).
inline double magnitude(GgmlType type, const uint8_t* row, const float* x, int64_t n_in) {
  std::vector<float> w(static_cast<size_t>(n_in));
  quant::dequantize_row_ref(type, row, w.data(), n_in);
  double m = 0.0;
  for (int64_t i = 0; i < n_in; ++i)
    m += std::fabs(static_cast<double>(w[i]) * x[i]);
  return m;
}

// Token t's quantised activations, dequantised in natural element order (q * d).
inline std::vector<float> dequantized_act(const ActQ8& a, int64_t t) {
  const int64_t nb = a.n_in / kQ8Block;
  std::vector<float> out(static_cast<size_t>(a.n_in));
  for (int64_t b = 0; b < nb; ++b) {
    int8_t q[kQ8Block];
    act_q8_block(a, t, b, q);
    for (int i = 0; i < kQ8Block; ++i)
      out[b * kQ8Block + i] = q[i] * a.d[t * nb + b];
  }
  return out;
}

inline std::vector<float> random_activations(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x)
    v = nd(rng);
  return x;
}

}  // namespace gemmad::kernels::testing
