// Reader of Hugging Face safetensors files (docs/FORMATS.md "safetensors"): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {string: string}}, then the tensor bytes. Files are mmap'd read-only and
// never copied; tensor views point into the mapping.
//
// Validation (the header is untrusted): header length within the file and at most
// kMaxHeaderBytes; the JSON an object; every entry an object with a known dtype, a shape of at
// most kMaxDims non-negative dimensions whose element count times the dtype size does not
// overflow and equals end - begin; offsets within the data section; no two tensors
// overlapping. Errors name the file, the tensor and the field.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace gemmad::import {

enum class StDtype { kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

std::string_view st_dtype_name(StDtype t);
uint32_t st_dtype_size(StDtype t);

inline constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
inline constexpr size_t kMaxDims = 8;

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<uint64_t> shape;  // row-major, outermost first (PyTorch order)
  uint64_t begin = 0;           // offsets within the data section
  uint64_t end = 0;
  std::span<const uint8_t> bytes;  // set when the header belongs to an open file
  uint64_t n_elements() const;
};

// The header of a safetensors file of `file_size` bytes whose first bytes are `head` (at
// least the 8 + header length bytes). Tensor byte views are left empty.
Result<std::vector<StTensor>> parse_safetensors_header(std::span<const uint8_t> head,
                                                       uint64_t file_size,
                                                       const std::string& file_name);

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<StTensor>& tensors() const { return tensors_; }
  const StTensor* find(const std::string& name) const;
  // Tells the kernel the pages of `t` will not be needed again (import streams each tensor
  // once; on a 1 GB board this keeps the page cache from holding the whole checkpoint).
  void release(const StTensor& t) const { release(t, 0, t.bytes.size()); }
  // Same for bytes [begin, end) of `t` (whole pages inside the range only).
  void release(const StTensor& t, uint64_t begin, uint64_t end) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::vector<StTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace gemmad::import
