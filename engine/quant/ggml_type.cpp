// The table of known ggml type ids and their block geometry (docs/GEMMA4.md §3.6).
#include "quant/ggml_type.h"

#include <array>
#include <cassert>
#include <string>

namespace gemmad::quant {
namespace {

using T = GgmlType;

// Geometry from docs/GEMMA4.md §3.6 / ggml's GGML_QUANT_SIZES; `computable` = dequantize_row_ref
// has it.
constexpr std::array<TypeTraits, 25> kTraits = {{
    {T::kF32, "f32", 1, 4, true},
    {T::kF16, "f16", 1, 2, true},
    {T::kQ4_0, "q4_0", 32, 18, true},
    {T::kQ4_1, "q4_1", 32, 20, false},
    {T::kQ5_0, "q5_0", 32, 22, false},
    {T::kQ5_1, "q5_1", 32, 24, false},
    {T::kQ8_0, "q8_0", 32, 34, true},
    {T::kQ8_1, "q8_1", 32, 36, false},
    {T::kQ2_K, "q2_K", 256, 84, false},
    {T::kQ3_K, "q3_K", 256, 110, false},
    {T::kQ4_K, "q4_K", 256, 144, true},
    {T::kQ5_K, "q5_K", 256, 176, false},
    {T::kQ6_K, "q6_K", 256, 210, true},
    {T::kQ8_K, "q8_K", 256, 292, false},
    {T::kI8, "i8", 1, 1, false},
    {T::kI16, "i16", 1, 2, false},
    {T::kI32, "i32", 1, 4, false},
    {T::kI64, "i64", 1, 8, false},
    {T::kF64, "f64", 1, 8, false},
    {T::kBF16, "bf16", 1, 2, true},
    {T::kQ1_0, "q1_0", 128, 18, false},
    {T::kQ2_0, "q2_0", 64, 18, true},
    // Scaled codes (docs/FORMATS.md): a "block" is the codes of one byte.
    {T::kGQ2, "gq2", 4, 1, false, 2, 2},
    {T::kGQ4, "gq4", 2, 1, false, 4, 8},
    {T::kGQ8, "gq8", 1, 1, false, 8, 0},
}};

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t raw_type) {
  for (const TypeTraits& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const TypeTraits& traits(GgmlType type) {
  for (const TypeTraits& t : kTraits) {
    if (t.type == type) return t;
  }
  // Every enumerator is in the table (a test checks this); reaching here is a programmer error
  // such as a value cast from an unchecked integer.
  assert(false && "GgmlType missing from the traits table");
  return kTraits[0];
}

Result<uint64_t> row_bytes(GgmlType type, uint64_t n) {
  const TypeTraits& t = traits(type);
  if (n % t.block_elems != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "row of " + std::to_string(n) + " elements is not a multiple of the " +
                          std::string(t.name) + " block size " + std::to_string(t.block_elems));
  }
  const uint64_t blocks = n / t.block_elems;
  if (blocks > UINT64_MAX / t.block_bytes) {
    return make_error(ErrorCode::kOutOfRange, "row of " + std::to_string(n) + " " +
                                                  std::string(t.name) +
                                                  " elements overflows a 64-bit byte count");
  }
  return blocks * t.block_bytes;
}

bool can_quantize(GgmlType type) {
  switch (type) {
    case T::kF32:
    case T::kF16:
    case T::kBF16:
    case T::kQ8_0:
    case T::kQ4_0:
    case T::kQ6_K:
    case T::kQ4_K:
    case T::kQ2_0:
      return true;
    case T::kQ4_1:
    case T::kQ5_0:
    case T::kQ5_1:
    case T::kQ8_1:
    case T::kQ2_K:
    case T::kQ3_K:
    case T::kQ5_K:
    case T::kQ8_K:
    case T::kI8:
    case T::kI16:
    case T::kI32:
    case T::kI64:
    case T::kF64:
    case T::kQ1_0:
    case T::kGQ2:
    case T::kGQ4:
    case T::kGQ8:
      return false;
  }
  return false;
}

}  // namespace gemmad::quant
