// KV cache element types chosen per layer type (config `model.kv_type`, gemmactl --kv-type):
// a preset names one type for the sliding-window layers and one for the full (global) layers.
//
// Presets: "f16", "f32", "q8", "q4" (both layer types), "mobile" (Google's mobile schema:
// sliding q8, full q4), or "sliding:T,full:T" with T one of f16 | f32 | q8 | q4. A q8 layer
// whose file carries calibrated static scales for it (gemma4.attention.k_cache_scale /
// v_cache_scale, both non-zero) stores static int8 with those scales; otherwise q8 and q4
// use per-block dynamic scales (ops/attention_kv.h).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace gemmad::runtime {

enum class KvType { kF16, kF32, kQ8, kQ4 };

// The type of each layer type. Converts from one KvType (the same for both).
struct KvTypes {
  KvType sliding = KvType::kF16;
  KvType full = KvType::kF16;
  KvTypes() = default;
  KvTypes(KvType t) : sliding(t), full(t) {}  // NOLINT(google-explicit-constructor)
  KvTypes(KvType s, KvType f) : sliding(s), full(f) {}
  KvType of(bool is_sliding) const { return is_sliding ? sliding : full; }
  bool operator==(const KvTypes&) const = default;
};

const char* kv_type_name(KvType t);
// "f16" when both are the same, else "sliding:q8,full:q4".
std::string kv_types_name(KvTypes t);
// Parses a preset; the error names the value and lists what is accepted.
Result<KvTypes> parse_kv_types(std::string_view preset);

}  // namespace gemmad::runtime
