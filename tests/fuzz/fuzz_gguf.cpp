// libFuzzer target for the GGUF reader (docs/GEMMA4.md §3.1): parse arbitrary bytes,
// then use everything a successful parse promises is safe: every getter on every key, value
// formatting, and the first and last byte of every tensor's data (plus its first block,
// dequantised, for computable types). Seeds: tests/fuzz/seeds/gguf (tests/engine/gguf/
// make_fuzz_seeds.cpp writes them).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

using gemmad::gguf::GgufFile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!r.ok()) return 0;
  const GgufFile& f = **r;
  size_t sink = 0;
  for (const gemmad::gguf::KeyValue& kv : f.metadata()) {
    sink += gemmad::gguf::format_value(kv).size();
    sink += f.get_uint(kv.key).ok();
    sink += f.get_int(kv.key).ok();
    sink += f.get_float(kv.key).ok();
    sink += f.get_bool(kv.key).ok();
    if (auto s = f.get_string(kv.key); s.ok()) sink += s->size();
    if (auto a = f.get_int_array(kv.key, true); a.ok()) sink += a->size();
    if (auto a = f.get_float_array(kv.key); a.ok()) sink += a->size();
    if (auto a = f.get_bool_array(kv.key); a.ok()) sink += a->size();
    if (auto a = f.get_string_array(kv.key); a.ok()) {
      for (std::string_view s : *a)
        sink += s.size();
    }
    if (f.find(kv.key) != &kv) __builtin_trap();
  }
  std::vector<float> block;
  for (const gemmad::gguf::TensorInfo& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) __builtin_trap();
    sink += t.data[0] + t.data[t.n_bytes - 1];
    const gemmad::quant::TypeTraits& tt = gemmad::quant::traits(t.type);
    if (tt.computable) {
      block.resize(tt.block_elems);
      gemmad::quant::dequantize_row_ref(t.type, t.data, block.data(), tt.block_elems);
    }
  }
  volatile size_t keep = sink;
  (void)keep;
  return 0;
}
