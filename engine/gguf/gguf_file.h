// A GGUF v3 file (docs/GEMMA4.md §3.1) read over one read-only mmap.
//
// Contract: open() validates the whole header, every key/value and every tensor info before
// returning (overflow, past end, misalignment, duplicate names, unknown types, absurd counts);
// after that, no accessor can read outside the mapping. Tensor data is never copied or
// pre-faulted: TensorInfo::data points into the mapping, so resident memory is what the
// engine touches. Errors name the key or tensor and what is wrong.
// Thread safety: immutable after open(); all const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "quant/ggml_type.h"

namespace gemmad::gguf {

enum class ValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
std::string_view value_type_name(ValueType t);

// One metadata entry. Scalars and arrays are views into the mapping, validated at open().
// `raw` layout: a scalar's little-endian bytes; a string's bytes without its u64 length; an
// array's elements as stored (string elements each keep their u64 length prefix).
struct KeyValue {
  std::string key;
  ValueType type = ValueType::kU8;
  ValueType array_type = ValueType::kU8;  // element type when type == kArray
  uint64_t array_count = 0;               // element count when type == kArray
  std::span<const uint8_t> raw;           // the value's bytes (for arrays: the elements)
};

struct TensorInfo {
  std::string name;
  quant::GgmlType type = quant::GgmlType::kF32;
  uint32_t n_dims = 0;
  uint64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous dimension
  uint64_t offset = 0;            // relative to the data section, as stored
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
};

class GgufFile {
 public:
  // Maps and validates a file. Limits guard against hostile files (e.g. counts above what
  // the file's size could hold are rejected before anything is allocated).
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Parses a caller-owned buffer (fuzzing, tests); `bytes` must outlive the object.
  static Result<std::unique_ptr<GgufFile>> parse(std::span<const uint8_t> bytes,
                                                 std::string name = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<KeyValue>& metadata() const { return kvs_; }
  const KeyValue* find(std::string_view key) const;  // nullptr if absent
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr if absent

  // Typed getters. Integer getters accept any integer value type whose value fits (u32 or
  // i32 alike, docs/GEMMA4.md §3.1); errors name the key and say absent / wrong type / out of
  // range.
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<float> get_float(std::string_view key) const;  // f32 or f64
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  // Arrays. Integer arrays accept any integer element type; a scalar integer key yields a
  // one-element vector when `allow_scalar` (spec: "scalar or array" keys).
  Result<std::vector<int64_t>> get_int_array(std::string_view key, bool allow_scalar = false) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;
  Result<std::vector<bool>> get_bool_array(std::string_view key) const;
  Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;

 private:
  GgufFile() = default;
  Status parse_all();

  std::string name_;
  std::span<const uint8_t> bytes_;
  void* map_base_ = nullptr;  // non-null when we own an mmap
  size_t map_len_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::vector<TensorInfo> tensors_;
  // Name -> index; the views point into bytes_ (the key/name bytes in the file), so they stay
  // valid for the object's life.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Render a value for display (inspect): scalars in full, arrays as "[type; count]" plus the
// first few elements.
std::string format_value(const KeyValue& kv, size_t max_elems = 8);

}  // namespace gemmad::gguf
