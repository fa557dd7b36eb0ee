// Tensor element types as data: the ggml type ids found in GGUF files, their block geometry,
// and the scalar reference (de)quantisation of each type this engine computes with.
// Layouts: docs/GEMMA4.md §3.6 (ggml-common.h). Every SIMD kernel is tested against
// dequantize_row_ref.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace gemmad::quant {

// Raw ggml type ids. Ids listed here are known (size computable, `model inspect` can name
// them); only those with `computable` traits can be dequantised.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  kQ1_0 = 41,
  kQ2_0 = 42,
  // gemmad-private ids (docs/FORMATS.md), far above ggml's: signed 2/4/8-bit codes scaled per
  // row or per group by a companion f32 tensor `<name>_scale` (Google's mobile schema).
  kGQ2 = 4098,
  kGQ4 = 4100,
  kGQ8 = 4104,
};

struct TypeTraits {
  GgmlType type;
  std::string_view name;  // ggml spelling: "f32", "q4_0", "q6_K", ...
  uint32_t block_elems;   // elements per block
  uint32_t block_bytes;   // bytes per block
  bool computable;        // dequantize_row_ref supports it
  // Scaled-code types (kGQ*): bits per code and the zero point of the stored unsigned code
  // (value = code - offset; 8-bit codes are stored signed, offset 0). Their scales live in a
  // companion tensor, so dequantize_row_ref cannot decode them alone (computable = false);
  // quant/scaled_codes.h and kernels/dot_gq.h do, given the scales. 0 for ggml types.
  uint8_t code_bits = 0;
  int32_t code_offset = 0;
};

// Traits of a raw type id read from a file; nullopt for ids this build does not know.
std::optional<TypeTraits> type_traits(uint32_t raw_type);
const TypeTraits& traits(GgmlType type);

// Bytes of a row of n elements. Error if n is not a multiple of the block size or overflows.
Result<uint64_t> row_bytes(GgmlType type, uint64_t n);

// dst[0..n) = values of the n elements at src. n must be a multiple of the block size.
void dequantize_row_ref(GgmlType type, const void* src, float* dst, int64_t n);

// Quantise n floats into dst (row_bytes(type, n) bytes), the way llama.cpp's reference
// quantisers do (nearest-value codes, per-block absmax scale). Supported: F32, F16, BF16,
// Q8_0, Q4_0, Q6_K, Q4_K, Q2_0. Used by the GGUF writer of synthetic models and tests.
bool can_quantize(GgmlType type);
void quantize_row_ref(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace gemmad::quant
