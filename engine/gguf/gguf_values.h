// Private helpers shared by the GGUF reader and writer: value type sizes and little-endian
// loads from unaligned bytes (docs/GEMMA4.md §3.1).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "gguf/gguf_file.h"

namespace gemmad::gguf::detail {

// GGUF is little-endian; this build only reads it on little-endian hosts (x86-64, aarch64).
static_assert(std::endian::native == std::endian::little, "GGUF reader assumes little-endian");

inline constexpr uint32_t kMaxValueType = 12;
inline constexpr uint64_t kStringLenBytes = 8;

// Bytes of one fixed-size value; 0 for string and array (variable size).
inline uint64_t fixed_size(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kBool:
      return 1;
    case ValueType::kU16:
    case ValueType::kI16:
      return 2;
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kF32:
      return 4;
    case ValueType::kU64:
    case ValueType::kI64:
    case ValueType::kF64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

inline bool is_integer(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kU16:
    case ValueType::kI16:
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kU64:
    case ValueType::kI64:
      return true;
    case ValueType::kF32:
    case ValueType::kBool:
    case ValueType::kString:
    case ValueType::kArray:
    case ValueType::kF64:
      return false;
  }
  return false;
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// An integer value of type t at p, widened: signed types sign-extend into `s`, unsigned into
// `u`; `is_signed` says which one holds the value. t must satisfy is_integer().
struct WideInt {
  bool is_signed;
  int64_t s;
  uint64_t u;
};
inline WideInt load_int(ValueType t, const uint8_t* p) {
  switch (t) {
    case ValueType::kU8:
      return {false, 0, load<uint8_t>(p)};
    case ValueType::kI8:
      return {true, load<int8_t>(p), 0};
    case ValueType::kU16:
      return {false, 0, load<uint16_t>(p)};
    case ValueType::kI16:
      return {true, load<int16_t>(p), 0};
    case ValueType::kU32:
      return {false, 0, load<uint32_t>(p)};
    case ValueType::kI32:
      return {true, load<int32_t>(p), 0};
    case ValueType::kU64:
      return {false, 0, load<uint64_t>(p)};
    case ValueType::kI64:
      return {true, load<int64_t>(p), 0};
    case ValueType::kF32:
    case ValueType::kBool:
    case ValueType::kString:
    case ValueType::kArray:
    case ValueType::kF64:
      break;
  }
  return {false, 0, 0};
}

}  // namespace gemmad::gguf::detail
