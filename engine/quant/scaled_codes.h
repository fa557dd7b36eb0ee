// Scaled-code weight types (GgmlType::kGQ2 / kGQ4 / kGQ8, docs/FORMATS.md): how signed 2, 4
// and 8-bit codes are packed into a row, and the reference dequantisation of a row given the
// scales of its companion `<name>_scale` tensor (one per row, or one per group of `group`
// consecutive elements). This is the definition the dot kernels (kernels/dot_gq.h) are tested
// against.
//
// Packing (little end first, the byte order of both Google layouts, so import is a copy):
//   gq4: byte j holds element 2j in its low nibble and 2j+1 in its high nibble, code k+8;
//   gq2: byte j holds elements 4j..4j+3, element 4j+i in bits 2i..2i+1, code k+2;
//   gq8: one int8 per element, no offset.
#pragma once

#include <cstdint>

#include "quant/ggml_type.h"

namespace gemmad::quant {

inline bool is_scaled_codes(GgmlType t) {
  return traits(t).code_bits != 0;
}

// Smallest and largest signed value of a scaled-code type: -2^(b-1) .. 2^(b-1)-1.
inline int32_t code_min(GgmlType t) {
  return -(1 << (traits(t).code_bits - 1));
}
inline int32_t code_max(GgmlType t) {
  return (1 << (traits(t).code_bits - 1)) - 1;
}

// dst[i] = signed value of element i, for i < n (n a multiple of the codes per byte).
void decode_codes(GgmlType t, const uint8_t* src, int8_t* dst, int64_t n);

// Packs the signed values k[0..n) (each within [code_min, code_max]) into row bytes.
void encode_codes(GgmlType t, const int8_t* k, uint8_t* dst, int64_t n);

// dst[i] = value(i) * scales[i / group] for i < n; group divides n.
void dequantize_scaled_row(GgmlType t, const uint8_t* src, const float* scales, int64_t group,
                           float* dst, int64_t n);

}  // namespace gemmad::quant
