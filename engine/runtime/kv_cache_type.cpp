// Parsing and naming of KV cache type presets (kv_cache_type.h).
#include "runtime/kv_cache_type.h"

#include <optional>

namespace gemmad::runtime {
namespace {

constexpr const char* kAccepted =
    "f16, f32, q8, q4, mobile (sliding:q8,full:q4) or sliding:T,full:T with T in f16|f32|q8|q4";

std::optional<KvType> one_type(std::string_view s) {
  if (s == "f16") return KvType::kF16;
  if (s == "f32") return KvType::kF32;
  if (s == "q8") return KvType::kQ8;
  if (s == "q4") return KvType::kQ4;
  return std::nullopt;
}

}  // namespace

const char* kv_type_name(KvType t) {
  switch (t) {
    case KvType::kF16:
      return "f16";
    case KvType::kF32:
      return "f32";
    case KvType::kQ8:
      return "q8";
    case KvType::kQ4:
      return "q4";
  }
  return "?";
}

std::string kv_types_name(KvTypes t) {
  if (t.sliding == t.full) return kv_type_name(t.sliding);
  return std::string("sliding:") + kv_type_name(t.sliding) + ",full:" + kv_type_name(t.full);
}

Result<KvTypes> parse_kv_types(std::string_view preset) {
  auto bad = [&](std::string_view why) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "KV type '" + std::string(preset) + "' " + std::string(why) + "; accepted: " + kAccepted);
  };
  if (auto t = one_type(preset)) return KvTypes(*t);
  if (preset == "mobile") return KvTypes(KvType::kQ8, KvType::kQ4);
  const size_t comma = preset.find(',');
  if (comma == std::string_view::npos) return bad("is unknown");
  std::optional<KvType> sliding, full;
  for (std::string_view part : {preset.substr(0, comma), preset.substr(comma + 1)}) {
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) return bad("has a part without 'layer:type'");
    const std::string_view layer = part.substr(0, colon);
    const std::optional<KvType> t = one_type(part.substr(colon + 1));
    if (!t) return bad("names an unknown type '" + std::string(part.substr(colon + 1)) + "'");
    std::optional<KvType>& slot = layer == "sliding" ? sliding : full;
    if (layer != "sliding" && layer != "full") {
      return bad("names an unknown layer type '" + std::string(layer) + "' (sliding or full)");
    }
    if (slot) return bad("names layer type '" + std::string(layer) + "' twice");
    slot = t;
  }
  if (!sliding || !full) return bad("must name both sliding and full");
  return KvTypes(*sliding, *full);
}

}  // namespace gemmad::runtime
