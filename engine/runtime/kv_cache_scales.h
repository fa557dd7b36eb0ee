// The optional per-layer static KV scales of a GGUF file (docs/KV_CACHE.md): f32 arrays
// gemma4.attention.k_cache_scale and v_cache_scale, one entry per layer, 0 = uncalibrated.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.h"
#include "gguf/gguf_file.h"

namespace gemmad::runtime {

struct KvStaticScales {
  std::vector<float> k, v;  // empty when the file has none; else n_layer entries each
};

// Absent keys give empty vectors. A key of the wrong type or length, or an entry that is
// negative or not finite, is an error naming the key, the index and the value.
Result<KvStaticScales> read_kv_static_scales(const gguf::GgufFile& f, uint32_t n_layer);

}  // namespace gemmad::runtime
