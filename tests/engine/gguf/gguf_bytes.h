// Test helper: builds GGUF bytes field by field, independently of GgufWriter, so tests can
// make valid files of every value type and hostile files (docs/GEMMA4.md §3.1).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace gemmad::gguf::testing {

class GgufBytes {
 public:
  std::vector<uint8_t> bytes;

  template <typename T>
  GgufBytes& pod(T v) {
    const size_t at = bytes.size();
    bytes.resize(at + sizeof v);
    std::memcpy(bytes.data() + at, &v, sizeof v);
    return *this;
  }
  GgufBytes& u32(uint32_t v) { return pod(v); }
  GgufBytes& u64(uint64_t v) { return pod(v); }
  GgufBytes& str(std::string_view s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  // magic "GGUF", version, tensor_count, kv_count.
  GgufBytes& header(uint64_t tensor_count, uint64_t kv_count, uint32_t version = 3) {
    bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(tensor_count).u64(kv_count);
  }
  // Key and value type; the value follows.
  GgufBytes& key(std::string_view k, uint32_t type) { return str(k).u32(type); }
  GgufBytes& tensor_info(std::string_view name, std::vector<uint64_t> ne, uint32_t type,
                         uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne)
      u64(n);
    return u32(type).u64(offset);
  }
  GgufBytes& pad_to(size_t alignment) {
    while (bytes.size() % alignment != 0)
      bytes.push_back(0);
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    bytes.resize(bytes.size() + n, 0);
    return *this;
  }
};

}  // namespace gemmad::gguf::testing
