// Streaming GGUF v3 writer: metadata and tensor infos are collected first (small), then tensor
// data is streamed to the file in the declared order, so a multi-GB file is never held in
// memory. A tensor added with a row fill is produced in chunks of whole rows of at most
// kChunkBytes (peak memory: one chunk, even for E2B's 1.9 GB Q6_K PLE table); one added with a
// whole-tensor fill is produced in one buffer (small tensors, tests). Used by `gemmactl model
// synth`, `model import-vocab` and tests (hostile files are made by editing the bytes it writes,
// tests/engine/gguf/gguf_hostile_test.cpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

namespace gemmad::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  // Metadata, kept in insertion order; setting a key again replaces its value.
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_f32(std::string_view key, float v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_i32_array(std::string_view key, std::span<const int32_t> v);
  void set_u32_array(std::string_view key, std::span<const uint32_t> v);
  void set_f32_array(std::string_view key, std::span<const float> v);
  void set_bool_array(std::string_view key, std::span<const bool> v);
  void set_string_array(std::string_view key, std::span<const std::string> v);
  // Copy one key/value from a file being read (e.g. the tokenizer keys of a vocab GGUF).
  void copy_kv(const KeyValue& kv);

  // Largest buffer a row fill is asked to fill at once.
  static constexpr uint64_t kChunkBytes = uint64_t{32} << 20;

  // Declare a tensor: ne in ggml order. Its bytes are produced later by `fill`, which is
  // called once with a buffer of exactly the tensor's byte size when write() reaches it.
  using FillFn = std::function<void(std::span<uint8_t> out)>;
  void add_tensor(std::string name, quant::GgmlType type, std::vector<uint64_t> ne, FillFn fill);

  // Same, with the bytes produced in chunks: `fill(row_begin, row_end, out)` fills rows
  // [row_begin, row_end) (a row is ne[0] elements; rows = ne[1] * ne[2] * ...) into `out`,
  // which holds exactly those rows. Called in increasing row order, covering every row once.
  using RowFillFn =
      std::function<void(uint64_t row_begin, uint64_t row_end, std::span<uint8_t> out)>;
  void add_tensor_rows(std::string name, quant::GgmlType type, std::vector<uint64_t> ne,
                       RowFillFn fill);

  // Writes the file (to `path`.tmp, then rename). `progress(done_bytes, total_bytes)` is
  // called after each tensor if set.
  Status write(const std::string& path,
               const std::function<void(uint64_t, uint64_t)>& progress = nullptr) const;

 private:
  struct Entry {
    std::string key;
    ValueType type;
    ValueType array_type;
    uint64_t array_count;
    std::vector<uint8_t> raw;  // value bytes as they appear in the file
  };
  struct Tensor {
    std::string name;
    quant::GgmlType type;
    std::vector<uint64_t> ne;
    uint64_t n_bytes;
    FillFn fill;         // either this,
    RowFillFn row_fill;  // or this (chunked)
  };
  void put(std::string_view key, ValueType type, ValueType array_type, uint64_t count,
           std::vector<uint8_t> raw);

  uint32_t alignment_;
  std::vector<Entry> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace gemmad::gguf
