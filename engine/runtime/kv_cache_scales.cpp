// Reading and validating a file's static KV scales (kv_cache_scales.h).
#include "runtime/kv_cache_scales.h"

#include <cmath>
#include <string>

namespace gemmad::runtime {
namespace {

Result<std::vector<float>> read_one(const gguf::GgufFile& f, const char* key, uint32_t n_layer) {
  if (f.find(key) == nullptr) return std::vector<float>{};
  GEMMAD_ASSIGN_OR_RETURN(std::vector<float> v, f.get_float_array(key));
  if (v.size() != n_layer) {
    return make_error(ErrorCode::kBadModelFile,
                      std::string(key) + " has " + std::to_string(v.size()) +
                          " entries; expected one per layer (" + std::to_string(n_layer) + ")");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]) || v[i] < 0.0f) {
      return make_error(ErrorCode::kBadModelFile, std::string(key) + "[" + std::to_string(i) +
                                                      "] is " + std::to_string(v[i]) +
                                                      "; a scale must be finite and >= 0");
    }
  }
  return v;
}

}  // namespace

Result<KvStaticScales> read_kv_static_scales(const gguf::GgufFile& f, uint32_t n_layer) {
  KvStaticScales s;
  GEMMAD_ASSIGN_OR_RETURN(s.k, read_one(f, "gemma4.attention.k_cache_scale", n_layer));
  GEMMAD_ASSIGN_OR_RETURN(s.v, read_one(f, "gemma4.attention.v_cache_scale", n_layer));
  return s;
}

}  // namespace gemmad::runtime
