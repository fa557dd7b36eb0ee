// Packing and reference dequantisation of the scaled-code types (quant/scaled_codes.h).
#include "quant/scaled_codes.h"

#include <cassert>
#include <vector>

namespace gemmad::quant {

void decode_codes(GgmlType t, const uint8_t* src, int8_t* dst, int64_t n) {
  const TypeTraits& tt = traits(t);
  assert(tt.code_bits != 0 && n % tt.block_elems == 0);
  const int bits = tt.code_bits;
  const int per_byte = 8 / bits;
  const uint32_t mask = (1u << bits) - 1;
  if (bits == 8) {
    for (int64_t i = 0; i < n; ++i)
      dst[i] = static_cast<int8_t>(src[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t c = (src[i / per_byte] >> (bits * (i % per_byte))) & mask;
    dst[i] = static_cast<int8_t>(static_cast<int32_t>(c) - tt.code_offset);
  }
}

void encode_codes(GgmlType t, const int8_t* k, uint8_t* dst, int64_t n) {
  const TypeTraits& tt = traits(t);
  assert(tt.code_bits != 0 && n % tt.block_elems == 0);
  const int bits = tt.code_bits;
  const int per_byte = 8 / bits;
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t j = 0; j < n / per_byte; ++j) {
    uint32_t b = 0;
    for (int i = 0; i < per_byte; ++i) {
      const int32_t v = k[j * per_byte + i];
      assert(v >= code_min(t) && v <= code_max(t));
      b |= (static_cast<uint32_t>(v + tt.code_offset) & mask) << (bits * i);
    }
    dst[j] = static_cast<uint8_t>(b);
  }
}

void dequantize_scaled_row(GgmlType t, const uint8_t* src, const float* scales, int64_t group,
                           float* dst, int64_t n) {
  assert(group > 0 && n % group == 0);
  thread_local std::vector<int8_t> k;
  k.resize(static_cast<size_t>(n));
  decode_codes(t, src, k.data(), n);
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<float>(k[i]) * scales[i / group];
}

}  // namespace gemmad::quant
