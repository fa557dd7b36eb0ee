// Writes the small synthetic Gemma 4 models the model tests load.
#include "tiny_model.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gguf/gguf_writer.h"

namespace gemmad::engine::testing {
namespace {

uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1).
float unit(uint64_t seed, const std::string& name, uint64_t i) {
  uint64_t h = 0xcbf29ce484222325ULL ^ mix(seed);
  for (char ch : name)
    h = (h ^ static_cast<uint8_t>(ch)) * 0x100000001b3ULL;
  const uint64_t r = mix(h + (i + 1) * 0x9e3779b97f4a7c15ULL);
  return static_cast<float>(static_cast<int64_t>(r >> 11) - (int64_t{1} << 52)) /
         static_cast<float>(int64_t{1} << 52);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

float tiny_value(const TinyModelSpec& spec, const std::string& name, uint64_t i) {
  const float u = unit(spec.seed, name, i);
  if (name == "rope_freqs.weight") return spec.config.rope_freq_factors[i];
  if (ends_with(name, "layer_output_scale.weight")) return 0.7f + 0.2f * u;
  // q/k norms below 1 keep attention scores (scale 1.0 on normalised heads) moderate, as in a
  // trained model; random unit norms make the softmax so peaky that one rounding step of an
  // activation can flip which key wins.
  if (ends_with(name, "attn_q_norm.weight") || ends_with(name, "attn_k_norm.weight")) {
    return 0.4f + 0.1f * u;
  }
  if (ends_with(name, "norm.weight")) return 1.0f + 0.25f * u;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return 0.3f * u;
  return u;  // matrices: scaled by 1.7 / sqrt(n_in) in write_tiny_model
}

std::vector<TinyTensor> tiny_tensors(const TinyModelSpec& spec) {
  const Gemma4Config& c = spec.config;
  const uint64_t d = c.n_embd, V = c.n_vocab, p = c.n_embd_per_layer, L = c.n_layer;
  std::vector<TinyTensor> t;
  auto vec = [&](const std::string& n, uint64_t len) { t.push_back({n, {len}, false}); };
  auto mat = [&](const std::string& n, uint64_t in, uint64_t out) {
    t.push_back({n, {in, out}, true});
  };
  mat("token_embd.weight", d, V);
  mat("per_layer_token_embd.weight", L * p, V);
  mat("per_layer_model_proj.weight", d, L * p);
  vec("per_layer_proj_norm.weight", p);
  vec("output_norm.weight", d);
  vec("rope_freqs.weight", c.n_rot_full / 2);
  for (uint32_t il = 0; il < L; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const uint64_t hd = c.head_dim(il), q = c.n_head * hd, kv = c.n_head_kv * hd, ff = c.n_ff[il];
    vec(b + "attn_norm.weight", d);
    mat(b + "attn_q.weight", d, q);
    vec(b + "attn_q_norm.weight", hd);
    if (c.owns_kv(il) || spec.shared_kv_tensors) {
      mat(b + "attn_k.weight", d, kv);
      mat(b + "attn_v.weight", d, kv);
      vec(b + "attn_k_norm.weight", hd);
    }
    mat(b + "attn_output.weight", q, d);
    vec(b + "post_attention_norm.weight", d);
    vec(b + "ffn_norm.weight", d);
    mat(b + "ffn_gate.weight", d, ff);
    mat(b + "ffn_up.weight", d, ff);
    mat(b + "ffn_down.weight", ff, d);
    vec(b + "post_ffw_norm.weight", d);
    mat(b + "inp_gate.weight", d, p);
    mat(b + "proj.weight", p, d);
    vec(b + "post_norm.weight", d);
    vec(b + "layer_output_scale.weight", 1);
  }
  for (const auto& [name, value] : spec.scales)
    vec(name, 1);
  for (const std::string& name : spec.foreign)
    vec(name, 32);
  return t;
}

Status write_tiny_model(const TinyModelSpec& spec, const std::string& path) {
  const Gemma4Config& c = spec.config;
  gguf::GgufWriter wr;
  const std::string a = "gemma4.";
  wr.set_string("general.architecture", "gemma4");
  wr.set_u32(a + "context_length", c.n_ctx_train);
  for (const auto& [key, values] : spec.f32_arrays)
    wr.set_f32_array(key, values);
  wr.set_u32(a + "embedding_length", c.n_embd);
  wr.set_u32(a + "block_count", c.n_layer);
  wr.set_u32(a + "attention.head_count", c.n_head);
  wr.set_u32(a + "attention.head_count_kv", c.n_head_kv);
  wr.set_u32(a + "attention.key_length", c.head_dim_full);
  wr.set_u32(a + "attention.value_length", c.head_dim_full);
  wr.set_u32(a + "attention.key_length_swa", c.head_dim_swa);
  wr.set_u32(a + "attention.value_length_swa", c.head_dim_swa);
  wr.set_f32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  wr.set_u32(a + "attention.sliding_window", c.n_swa);
  wr.set_u32(a + "attention.shared_kv_layers", c.n_layer_kv_shared);
  wr.set_u32(a + "embedding_length_per_layer_input", c.n_embd_per_layer);
  wr.set_f32(a + "rope.freq_base", c.rope_base_full);
  wr.set_f32(a + "rope.freq_base_swa", c.rope_base_swa);
  wr.set_u32(a + "rope.dimension_count", c.n_rot_full);
  wr.set_u32(a + "rope.dimension_count_swa", c.n_rot_swa);
  wr.set_f32(a + "final_logit_softcapping", c.final_logit_softcap);
  std::vector<int32_t> ff(c.n_ff.begin(), c.n_ff.end());
  wr.set_i32_array(a + "feed_forward_length", ff);
  std::unique_ptr<bool[]> swa(new bool[c.n_layer]);
  for (uint32_t il = 0; il < c.n_layer; ++il)
    swa[il] = c.is_swa[il];
  wr.set_bool_array(a + "attention.sliding_window_pattern", {swa.get(), c.n_layer});

  for (TinyTensor t : tiny_tensors(spec)) {
    if (t.name == spec.omit) continue;
    if (t.name == spec.wrong_shape) t.ne[0] *= 2;
    quant::GgmlType type = quant::GgmlType::kF32;
    if (t.is_matrix) {
      const bool embd = t.name == "token_embd.weight" || t.name == "per_layer_token_embd.weight";
      type = embd ? spec.embd_type : spec.matrix_type;
      // Tiny rows (e.g. proj's 16) may be shorter than a block: keep those f32.
      if (t.ne[0] % quant::traits(type).block_elems != 0) type = quant::GgmlType::kF32;
    }
    const auto scale_it = spec.scales.find(t.name);
    const float fixed = scale_it == spec.scales.end() ? 0.0f : scale_it->second;
    const bool is_fixed = scale_it != spec.scales.end();
    const bool embd = t.name == "token_embd.weight" || t.name == "per_layer_token_embd.weight";
    const float amp = t.is_matrix && !embd ? 1.7f / std::sqrt(static_cast<float>(t.ne[0])) : 1.0f;
    wr.add_tensor(t.name, type, t.ne,
                  [&spec, t, type, amp, fixed, is_fixed](std::span<uint8_t> out) {
                    const uint64_t n_in = t.ne[0];
                    const uint64_t rows = t.ne.size() > 1 ? t.ne[1] : 1;
                    const uint64_t rb = out.size() / rows;
                    std::vector<float> row(n_in);
                    for (uint64_t r = 0; r < rows; ++r) {
                      for (uint64_t i = 0; i < n_in; ++i) {
                        row[i] = is_fixed ? fixed : amp * tiny_value(spec, t.name, r * n_in + i);
                      }
                      quant::quantize_row_ref(type, row.data(), out.data() + r * rb,
                                              static_cast<int64_t>(n_in));
                    }
                  });
  }
  return wr.write(path);
}

}  // namespace gemmad::engine::testing
