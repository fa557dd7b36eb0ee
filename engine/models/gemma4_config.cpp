// Gemma 4 hyperparameters from GGUF metadata, and the known variants as data.
#include "models/gemma4_config.h"

#include <cmath>
#include <string>

#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

namespace gemmad::engine {
namespace {

constexpr uint32_t kMaxLayers = 1024;
constexpr uint32_t kMaxWidth = 1u << 20;

Error bad(const std::string& key, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "metadata key '" + key + "': " + what);
}

Result<uint32_t> read_u32(const gguf::GgufFile& f, const std::string& key, uint32_t lo,
                          uint32_t hi) {
  GEMMAD_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
  if (v < lo || v > hi) {
    return bad(key, "value " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
  }
  return static_cast<uint32_t>(v);
}

Result<uint32_t> read_u32_or(const gguf::GgufFile& f, const std::string& key, uint32_t lo,
                             uint32_t hi, uint32_t fallback) {
  if (f.find(key) == nullptr) return fallback;
  return read_u32(f, key, lo, hi);
}

Result<float> read_f32_or(const gguf::GgufFile& f, const std::string& key, float fallback) {
  if (f.find(key) == nullptr) return fallback;
  GEMMAD_ASSIGN_OR_RETURN(float v, f.get_float(key));
  if (!std::isfinite(v)) return bad(key, "not a finite number");
  return v;
}

// A "u32 or i32[L]" key (docs/GEMMA4.md §3.2): one value for every layer, or one per layer.
Result<std::vector<uint32_t>> read_per_layer(const gguf::GgufFile& f, const std::string& key,
                                             uint32_t n_layer, uint32_t hi) {
  GEMMAD_ASSIGN_OR_RETURN(std::vector<int64_t> vals, f.get_int_array(key, true));
  if (vals.size() != 1 && vals.size() != n_layer) {
    return bad(key, "has " + std::to_string(vals.size()) + " values; expected 1 or block_count " +
                        std::to_string(n_layer));
  }
  std::vector<uint32_t> out(n_layer);
  for (uint32_t il = 0; il < n_layer; ++il) {
    const int64_t v = vals.size() == 1 ? vals[0] : vals[il];
    if (v < 1 || v > hi) {
      return bad(key, "layer " + std::to_string(il) + " value " + std::to_string(v) +
                          " outside [1, " + std::to_string(hi) + "]");
    }
    out[il] = static_cast<uint32_t>(v);
  }
  return out;
}

}  // namespace

uint32_t Gemma4Config::kv_source_layer(uint32_t il) const {
  const uint32_t f0 = first_shared_layer();
  if (il < f0) return il;
  for (uint32_t j = f0; j-- > 0;) {
    if (is_swa[j] == is_swa[il]) return j;
  }
  return il;  // unreachable for a validated config (from_gguf checks a source exists)
}

Result<Gemma4Config> Gemma4Config::from_gguf(const gguf::GgufFile& f) {
  GEMMAD_ASSIGN_OR_RETURN(std::string_view arch, f.get_string("general.architecture"));
  if (arch != "gemma4") {
    return make_error(ErrorCode::kBadModelFile,
                      "general.architecture is '" + std::string(arch) + "'; expected 'gemma4'");
  }
  const std::string a = "gemma4.";
  Gemma4Config c;
  GEMMAD_ASSIGN_OR_RETURN(c.n_embd, read_u32(f, a + "embedding_length", 1, kMaxWidth));
  GEMMAD_ASSIGN_OR_RETURN(c.n_layer, read_u32(f, a + "block_count", 1, kMaxLayers));
  GEMMAD_ASSIGN_OR_RETURN(c.n_ctx_train, read_u32_or(f, a + "context_length", 1, 1u << 24, 131072));
  GEMMAD_ASSIGN_OR_RETURN(c.n_head, read_u32(f, a + "attention.head_count", 1, 1024));
  GEMMAD_ASSIGN_OR_RETURN(std::vector<uint32_t> hkv,
                          read_per_layer(f, a + "attention.head_count_kv", c.n_layer, 1024));
  for (uint32_t v : hkv) {
    if (v != hkv[0]) {
      return make_error(ErrorCode::kUnsupported,
                        "attention.head_count_kv differs per layer; E2B/E4B use one value");
    }
  }
  c.n_head_kv = hkv[0];
  if (c.n_head % c.n_head_kv != 0) {
    return bad(a + "attention.head_count_kv", "head_count " + std::to_string(c.n_head) +
                                                  " is not a multiple of " +
                                                  std::to_string(c.n_head_kv));
  }
  GEMMAD_ASSIGN_OR_RETURN(c.head_dim_full, read_u32(f, a + "attention.key_length", 2, 8192));
  GEMMAD_ASSIGN_OR_RETURN(c.head_dim_swa, read_u32(f, a + "attention.key_length_swa", 2, 8192));
  GEMMAD_ASSIGN_OR_RETURN(uint32_t vlen,
                          read_u32_or(f, a + "attention.value_length", 2, 8192, c.head_dim_full));
  GEMMAD_ASSIGN_OR_RETURN(
      uint32_t vlen_swa, read_u32_or(f, a + "attention.value_length_swa", 2, 8192, c.head_dim_swa));
  if (vlen != c.head_dim_full || vlen_swa != c.head_dim_swa) {
    return make_error(ErrorCode::kUnsupported, "attention.value_length differs from key_length");
  }
  if (c.head_dim_full % 2 || c.head_dim_swa % 2) {
    return bad(a + "attention.key_length", "head dims must be even for RoPE");
  }
  GEMMAD_ASSIGN_OR_RETURN(c.n_swa, read_u32(f, a + "attention.sliding_window", 1, 1u << 24));
  GEMMAD_ASSIGN_OR_RETURN(c.n_layer_kv_shared,
                          read_u32_or(f, a + "attention.shared_kv_layers", 0, c.n_layer - 1, 0));
  GEMMAD_ASSIGN_OR_RETURN(c.n_embd_per_layer,
                          read_u32(f, a + "embedding_length_per_layer_input", 0, kMaxWidth));
  GEMMAD_ASSIGN_OR_RETURN(float eps, f.get_float(a + "attention.layer_norm_rms_epsilon"));
  if (!(eps > 0.0f && eps < 1.0f)) {
    return bad(a + "attention.layer_norm_rms_epsilon", "must be in (0, 1)");
  }
  c.rms_eps = eps;
  GEMMAD_ASSIGN_OR_RETURN(c.rope_base_full, read_f32_or(f, a + "rope.freq_base", 1e6f));
  GEMMAD_ASSIGN_OR_RETURN(c.rope_base_swa, read_f32_or(f, a + "rope.freq_base_swa", 1e4f));
  if (!(c.rope_base_full > 1.0f) || !(c.rope_base_swa > 1.0f)) {
    return bad(a + "rope.freq_base", "must be > 1");
  }
  GEMMAD_ASSIGN_OR_RETURN(c.n_rot_full, read_u32_or(f, a + "rope.dimension_count", 2,
                                                    c.head_dim_full, c.head_dim_full));
  GEMMAD_ASSIGN_OR_RETURN(c.n_rot_swa, read_u32_or(f, a + "rope.dimension_count_swa", 2,
                                                   c.head_dim_swa, c.head_dim_swa));
  GEMMAD_ASSIGN_OR_RETURN(c.final_logit_softcap,
                          read_f32_or(f, a + "final_logit_softcapping", 30.0f));
  if (c.final_logit_softcap < 0.0f) {
    return bad(a + "final_logit_softcapping", "must be >= 0");
  }
  GEMMAD_ASSIGN_OR_RETURN(c.n_ff,
                          read_per_layer(f, a + "feed_forward_length", c.n_layer, kMaxWidth));
  GEMMAD_ASSIGN_OR_RETURN(std::vector<bool> pattern,
                          f.get_bool_array(a + "attention.sliding_window_pattern"));
  if (pattern.size() != c.n_layer) {
    return bad(a + "attention.sliding_window_pattern", "has " + std::to_string(pattern.size()) +
                                                           " entries; expected block_count " +
                                                           std::to_string(c.n_layer));
  }
  c.is_swa = std::move(pattern);
  const uint32_t f0 = c.first_shared_layer();
  for (uint32_t il = f0; il < c.n_layer; ++il) {
    bool found = false;
    for (uint32_t j = 0; j < f0; ++j)
      found = found || c.is_swa[j] == c.is_swa[il];
    if (!found) {
      return bad(
          a + "attention.shared_kv_layers",
          "layer " + std::to_string(il) + " shares KV but no earlier layer of its type owns KV");
    }
  }

  // Vocabulary size: the token table's row count (the tokenizer may be absent in tests).
  if (const gguf::TensorInfo* te = f.find_tensor("token_embd.weight")) {
    if (te->n_dims != 2 || te->ne[0] != c.n_embd || te->ne[1] == 0 || te->ne[1] > (1u << 24)) {
      return make_error(ErrorCode::kBadModelFile,
                        "tensor 'token_embd.weight' must be {embedding_length, n_vocab}");
    }
    c.n_vocab = static_cast<uint32_t>(te->ne[1]);
  } else {
    return make_error(ErrorCode::kBadModelFile, "required tensor 'token_embd.weight' is missing");
  }

  if (const gguf::TensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    if (rf->type != quant::GgmlType::kF32 || rf->n_elements != c.n_rot_full / 2) {
      return make_error(ErrorCode::kBadModelFile,
                        "tensor 'rope_freqs.weight' must be f32 with rope.dimension_count/2 = " +
                            std::to_string(c.n_rot_full / 2) + " values");
    }
    c.rope_freq_factors.resize(rf->n_elements);
    quant::dequantize_row_ref(rf->type, rf->data, c.rope_freq_factors.data(),
                              static_cast<int64_t>(rf->n_elements));
    for (float v : c.rope_freq_factors) {
      if (!(v > 0.0f) || !std::isfinite(v)) {
        return make_error(ErrorCode::kBadModelFile,
                          "tensor 'rope_freqs.weight' holds a non-positive or non-finite value");
      }
    }
  }

  for (const char* name : {"e2b", "e4b"}) {
    auto canon = preset(name);
    if (canon && canon->n_layer == c.n_layer && canon->n_embd == c.n_embd) c.variant = name;
  }
  return c;
}

std::optional<Gemma4Config> Gemma4Config::preset(const std::string& name) {
  Gemma4Config c;
  c.variant = name;
  c.rms_eps = 1e-6f;
  c.rope_base_full = 1e6f;
  c.rope_base_swa = 1e4f;
  c.final_logit_softcap = 30.0f;
  c.n_ctx_train = 131072;
  c.n_vocab = 262144;
  if (name == "e2b" || name == "e4b") {
    const bool e2b = name == "e2b";
    c.n_embd = e2b ? 1536 : 2560;
    c.n_layer = e2b ? 35 : 42;
    c.n_head = 8;
    c.n_head_kv = e2b ? 1 : 2;
    c.head_dim_full = 512;
    c.head_dim_swa = 256;
    c.n_swa = 512;
    c.n_layer_kv_shared = e2b ? 20 : 18;
    c.n_embd_per_layer = 256;
    c.n_rot_full = 512;
    c.n_rot_swa = 256;
    const uint32_t period = e2b ? 5 : 6;  // (4 sliding, 1 full) x 7 / (5 sliding, 1 full) x 7
    for (uint32_t il = 0; il < c.n_layer; ++il) {
      c.is_swa.push_back(il % period != period - 1);
      c.n_ff.push_back(e2b ? (il < 15 ? 6144 : 12288) : 10240);
    }
  } else if (name == "tiny") {
    // Every feature of E2B at toy size: layers s s s f | s f, F0 = 4 (layer 3 full, 2
    // sliding), double-wide FFN on the shared layers, a window of 16 so short prompts cross it.
    c.n_vocab = 512;
    c.n_ctx_train = 4096;
    c.n_embd = 64;
    c.n_layer = 6;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.head_dim_full = 64;
    c.head_dim_swa = 32;
    c.n_swa = 16;
    c.n_layer_kv_shared = 2;
    c.n_embd_per_layer = 16;
    c.n_rot_full = 64;
    c.n_rot_swa = 32;
    c.is_swa = {true, true, true, false, true, false};
    c.n_ff = {128, 128, 128, 128, 256, 256};
  } else {
    return std::nullopt;
  }
  // Proportional RoPE on full layers: a quarter of the pairs rotate (docs/GEMMA4.md §1.4).
  const uint32_t pairs = c.n_rot_full / 2;
  c.rope_freq_factors.assign(pairs, 1e30f);
  for (uint32_t j = 0; j < pairs / 4; ++j)
    c.rope_freq_factors[j] = 1.0f;
  return c;
}

std::vector<std::string> Gemma4Config::differences_from(const Gemma4Config& k) const {
  std::vector<std::string> out;
  auto cmp = [&](const char* field, uint64_t ours, uint64_t theirs) {
    if (ours != theirs) {
      out.push_back(std::string(field) + " is " + std::to_string(ours) + "; " + k.variant +
                    " has " + std::to_string(theirs));
    }
  };
  cmp("n_layer", n_layer, k.n_layer);
  cmp("n_embd", n_embd, k.n_embd);
  cmp("n_head", n_head, k.n_head);
  cmp("n_head_kv", n_head_kv, k.n_head_kv);
  cmp("head_dim_full", head_dim_full, k.head_dim_full);
  cmp("head_dim_swa", head_dim_swa, k.head_dim_swa);
  cmp("n_swa", n_swa, k.n_swa);
  cmp("n_layer_kv_shared", n_layer_kv_shared, k.n_layer_kv_shared);
  cmp("n_embd_per_layer", n_embd_per_layer, k.n_embd_per_layer);
  cmp("n_vocab", n_vocab, k.n_vocab);
  if (n_layer == k.n_layer) {
    for (uint32_t il = 0; il < n_layer; ++il) {
      if (n_ff[il] != k.n_ff[il]) {
        out.push_back("n_ff[" + std::to_string(il) + "] is " + std::to_string(n_ff[il]) + "; " +
                      k.variant + " has " + std::to_string(k.n_ff[il]));
        break;
      }
    }
  }
  return out;
}

}  // namespace gemmad::engine
