// config.json -> Gemma4Config (hf_config.h).
#include "import/hf_config.h"

#include <cmath>

namespace gemmad::import {
namespace {

using nlohmann::ordered_json;

Error bad(const std::string& key, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "config.json: '" + key + "' " + what);
}

Result<uint32_t> get_u32(const ordered_json& j, const std::string& key,
                         std::optional<uint32_t> def = {}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (def) return *def;
    return bad(key, "is missing");
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() > 1u << 24) {
    return bad(key, "must be an integer in [0, 16777216]; it is " + it->dump());
  }
  return static_cast<uint32_t>(it->get<uint64_t>());
}

Result<float> get_f32(const ordered_json& j, const std::string& key, float def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number()) return bad(key, "must be a number; it is " + it->dump());
  return it->get<float>();
}

}  // namespace

const ordered_json& text_config(const ordered_json& config) {
  auto it = config.find("text_config");
  return it != config.end() && it->is_object() ? *it : config;
}

Result<engine::Gemma4Config> gemma4_config_from_hf(const ordered_json& config) {
  const ordered_json& t = text_config(config);
  engine::Gemma4Config c;
  GEMMAD_ASSIGN_OR_RETURN(c.n_embd, get_u32(t, "hidden_size"));
  GEMMAD_ASSIGN_OR_RETURN(c.n_layer, get_u32(t, "num_hidden_layers"));
  GEMMAD_ASSIGN_OR_RETURN(c.n_head, get_u32(t, "num_attention_heads"));
  GEMMAD_ASSIGN_OR_RETURN(c.n_head_kv, get_u32(t, "num_key_value_heads"));
  GEMMAD_ASSIGN_OR_RETURN(c.head_dim_swa, get_u32(t, "head_dim"));
  GEMMAD_ASSIGN_OR_RETURN(c.head_dim_full, get_u32(t, "global_head_dim", c.head_dim_swa));
  GEMMAD_ASSIGN_OR_RETURN(c.n_vocab, get_u32(t, "vocab_size"));
  GEMMAD_ASSIGN_OR_RETURN(c.n_swa, get_u32(t, "sliding_window"));
  GEMMAD_ASSIGN_OR_RETURN(c.n_layer_kv_shared, get_u32(t, "num_kv_shared_layers", 0u));
  GEMMAD_ASSIGN_OR_RETURN(c.n_embd_per_layer, get_u32(t, "hidden_size_per_layer_input", 0u));
  GEMMAD_ASSIGN_OR_RETURN(c.n_ctx_train, get_u32(t, "max_position_embeddings", 131072u));
  GEMMAD_ASSIGN_OR_RETURN(c.rms_eps, get_f32(t, "rms_norm_eps", 1e-6f));
  GEMMAD_ASSIGN_OR_RETURN(c.final_logit_softcap, get_f32(t, "final_logit_softcapping", 0.0f));
  if (c.n_layer == 0 || c.n_head == 0 || c.n_embd == 0) {
    return bad("num_hidden_layers", "/ hidden_size / num_attention_heads must be > 0");
  }
  if (c.n_layer_kv_shared >= c.n_layer) {
    return bad("num_kv_shared_layers", "is " + std::to_string(c.n_layer_kv_shared) +
                                           "; must be below num_hidden_layers " +
                                           std::to_string(c.n_layer));
  }
  // Layer types.
  auto lt = t.find("layer_types");
  if (lt == t.end() || !lt->is_array() || lt->size() != c.n_layer) {
    return bad("layer_types",
               "must be an array of num_hidden_layers (" + std::to_string(c.n_layer) + ") strings");
  }
  for (const ordered_json& v : *lt) {
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    if (s != "sliding_attention" && s != "full_attention") {
      return bad("layer_types",
                 "holds " + v.dump() + "; expected \"sliding_attention\" or \"full_attention\"");
    }
    c.is_swa.push_back(s == "sliding_attention");
  }
  // FFN widths: one value, or one per layer; double-wide MLPs on the KV-shared layers.
  auto ff = t.find("intermediate_size");
  if (ff == t.end()) return bad("intermediate_size", "is missing");
  if (ff->is_array()) {
    if (ff->size() != c.n_layer)
      return bad("intermediate_size", "array length must be num_hidden_layers");
    for (const ordered_json& v : *ff) {
      if (!v.is_number_unsigned()) return bad("intermediate_size", "holds " + v.dump());
      c.n_ff.push_back(v.get<uint32_t>());
    }
  } else {
    GEMMAD_ASSIGN_OR_RETURN(uint32_t f, get_u32(t, "intermediate_size"));
    c.n_ff.assign(c.n_layer, f);
  }
  auto dw = t.find("use_double_wide_mlp");
  if (dw != t.end() && dw->is_boolean() && dw->get<bool>()) {
    for (uint32_t il = c.first_shared_layer(); il < c.n_layer; ++il)
      c.n_ff[il] *= 2;
  }
  // RoPE: per layer type (rope_parameters), or the older flat keys.
  float partial = 0.25f;
  c.rope_base_full = 1e6f;
  c.rope_base_swa = 1e4f;
  auto rp = t.find("rope_parameters");
  if (rp != t.end() && rp->is_object()) {
    auto full = rp->find("full_attention");
    auto swa = rp->find("sliding_attention");
    if (full != rp->end() && full->is_object()) {
      GEMMAD_ASSIGN_OR_RETURN(c.rope_base_full, get_f32(*full, "rope_theta", 1e6f));
      GEMMAD_ASSIGN_OR_RETURN(partial, get_f32(*full, "partial_rotary_factor", 0.25f));
    }
    if (swa != rp->end() && swa->is_object()) {
      GEMMAD_ASSIGN_OR_RETURN(c.rope_base_swa, get_f32(*swa, "rope_theta", 1e4f));
    }
  } else {
    GEMMAD_ASSIGN_OR_RETURN(c.rope_base_full, get_f32(t, "rope_theta", 1e6f));
    GEMMAD_ASSIGN_OR_RETURN(c.rope_base_swa, get_f32(t, "rope_local_base_freq", 1e4f));
    GEMMAD_ASSIGN_OR_RETURN(partial, get_f32(t, "partial_rotary_factor", 0.25f));
  }
  if (!(partial > 0.0f && partial <= 1.0f)) {
    return bad("partial_rotary_factor", "is " + std::to_string(partial) + "; must be in (0, 1]");
  }
  c.n_rot_full = c.head_dim_full;
  c.n_rot_swa = c.head_dim_swa;
  // Proportional RoPE on full layers: the first partial * pairs rotate, the rest get a
  // divisor of 1e30 (no rotation), as the converter's rope_freqs tensor (spec facts:
  // docs/FORMATS.md).
  const uint32_t pairs = c.n_rot_full / 2;
  const auto rotated = static_cast<uint32_t>(std::lround(partial * static_cast<float>(pairs)));
  c.rope_freq_factors.assign(pairs, 1e30f);
  for (uint32_t j = 0; j < rotated && j < pairs; ++j)
    c.rope_freq_factors[j] = 1.0f;
  return c;
}

}  // namespace gemmad::import
