// Synthetic Gemma 4 model writer: metadata (docs/GEMMA4.md §3.2), tensor table (§3.3) with the
// tensor types of the official Q4_0 files (§7.1), and well-conditioned hashed values.
#include "synth/synth_model.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "models/gemma4_config.h"
#include "synth/synth_vocab.h"
#include "synth/synth_weights.h"

namespace gemmad::synth {
namespace {

using quant::GgmlType;

// llama_ftype values for general.file_type.
constexpr uint32_t kFileTypeAllF32 = 0;
constexpr uint32_t kFileTypeMostlyQ4_0 = 2;
constexpr uint32_t kMaxVocab = 1u << 24;

// Value scales. Chosen so that every activation stays O(1) through the stack and logits
// have a spread of a few units (checked by tests/reference/check_synth_logits.py):
// linears have std 1/sqrt(n_in) (unit gain); embeddings std 1/sqrt(width) so the
// sqrt(d)/sqrt(p)-scaled lookups are O(1) (§1.3 steps 1-2); RMSNorm weights are uniform in
// [0.5, 1.5]; q/k-norm weights are scaled by hd^(-1/4) so that q.k with attention scale 1.0
// (§1.3 step 5.4) has a std of about 1.5 rather than sqrt(hd); layer_output_scale in
// [0.5, 1.0] keeps the residual stream from growing with depth.
constexpr float kSqrt3 = 1.7320508f;
ValueSpec output_norm_values() {
  return {3.5f, 1.5f, {}};
}
ValueSpec layer_scale_values() {
  return {0.75f, 0.25f, {}};
}

// Types of the official Q4_0 files (§7.1) where the row length allows; otherwise the
// fallbacks llama-quantize would take (Q6_K -> Q8_0 -> F16; Q4_0 -> F16). Only the tiny
// preset has such rows (e.g. proj {16, 64}).
GgmlType linear_type(SynthQuant q, uint64_t n_in) {
  switch (q) {
    case SynthQuant::kF32:
      return GgmlType::kF32;
    case SynthQuant::kQ4_0:
      return n_in % 32 == 0 ? GgmlType::kQ4_0 : GgmlType::kF16;
  }
  return GgmlType::kF32;
}
GgmlType embedding_type(SynthQuant q, uint64_t n_in) {
  switch (q) {
    case SynthQuant::kF32:
      return GgmlType::kF32;
    case SynthQuant::kQ4_0:
      if (n_in % 256 == 0) return GgmlType::kQ6_K;
      return n_in % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
  }
  return GgmlType::kF32;
}
GgmlType f16_type(SynthQuant q) {
  switch (q) {
    case SynthQuant::kF32:
      return GgmlType::kF32;
    case SynthQuant::kQ4_0:
      return GgmlType::kF16;
  }
  return GgmlType::kF32;
}

const char* quant_name(SynthQuant q) {
  switch (q) {
    case SynthQuant::kF32:
      return "f32";
    case SynthQuant::kQ4_0:
      return "q4_0";
  }
  return "?";
}

// Collects the plan; vectors are {n}, matrices {n_cols, n_rows} (n_rows > 0).
class TensorTable {
 public:
  void add(const std::string& name, GgmlType type, uint64_t n_cols, uint64_t n_rows,
           ValueSpec values) {
    std::vector<uint64_t> ne = {n_cols};
    if (n_rows > 0) ne.push_back(n_rows);
    plan_.push_back(TensorPlan{name, type, std::move(ne), std::move(values)});
  }
  std::vector<TensorPlan> take() { return std::move(plan_); }

 private:
  std::vector<TensorPlan> plan_;
};

}  // namespace

ValueSpec linear_values(uint64_t n_in) {
  return {0.0f, kSqrt3 / std::sqrt(static_cast<float>(n_in)), {}};
}
ValueSpec norm_values() {
  return {1.0f, 0.5f, {}};
}
ValueSpec qk_norm_values(uint32_t head_dim) {
  const float s = std::pow(static_cast<float>(head_dim), -0.25f) * 1.2f;
  return {s, 0.5f * s, {}};
}

std::vector<TensorPlan> plan_tensors(const engine::Gemma4Config& c, SynthQuant q, bool shared_kv) {
  TensorTable t;
  const uint64_t d = c.n_embd;
  const uint64_t p = c.n_embd_per_layer;
  const uint64_t lp = uint64_t{c.n_layer} * p;
  // Globals (§3.3). The big tables first, as in converted files.
  t.add("token_embd.weight", embedding_type(q, d), d, c.n_vocab,
        {0.0f, kSqrt3 / std::sqrt(static_cast<float>(d)), {}});
  if (p > 0) {
    t.add("per_layer_token_embd.weight", embedding_type(q, lp), lp, c.n_vocab,
          {0.0f, kSqrt3 / std::sqrt(static_cast<float>(p)), {}});
    t.add("per_layer_model_proj.weight", f16_type(q), d, lp, linear_values(d));
    t.add("per_layer_proj_norm.weight", GgmlType::kF32, p, 0, norm_values());
  }
  t.add("output_norm.weight", GgmlType::kF32, d, 0, output_norm_values());
  // §1.4: per-pair frequency divisors, 1.0 for the rotated quarter, 1e30 for the rest.
  t.add("rope_freqs.weight", GgmlType::kF32, c.n_rot_full / 2, 0,
        {0.0f, 0.0f, c.rope_freq_factors});

  for (uint32_t il = 0; il < c.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const uint64_t hd = c.head_dim(il);
    const uint64_t q_out = c.n_head * hd;
    const uint64_t kv_out = c.n_head_kv * hd;
    const uint64_t ff = c.n_ff[il];
    t.add(b + "attn_norm.weight", GgmlType::kF32, d, 0, norm_values());
    t.add(b + "attn_q.weight", linear_type(q, d), d, q_out, linear_values(d));
    t.add(b + "attn_q_norm.weight", GgmlType::kF32, hd, 0,
          qk_norm_values(static_cast<uint32_t>(hd)));
    // KV-shared layers (§1.6) have no K/V in the official files; --shared-kv writes them
    // anyway (the 601/720-tensor layout) with their own values, which an engine must ignore.
    if (c.owns_kv(il) || shared_kv) {
      t.add(b + "attn_k.weight", linear_type(q, d), d, kv_out, linear_values(d));
      t.add(b + "attn_k_norm.weight", GgmlType::kF32, hd, 0,
            qk_norm_values(static_cast<uint32_t>(hd)));
      t.add(b + "attn_v.weight", linear_type(q, d), d, kv_out, linear_values(d));
    }
    t.add(b + "attn_output.weight", linear_type(q, q_out), q_out, d, linear_values(q_out));
    t.add(b + "post_attention_norm.weight", GgmlType::kF32, d, 0, norm_values());
    t.add(b + "ffn_norm.weight", GgmlType::kF32, d, 0, norm_values());
    t.add(b + "ffn_gate.weight", linear_type(q, d), d, ff, linear_values(d));
    t.add(b + "ffn_up.weight", linear_type(q, d), d, ff, linear_values(d));
    t.add(b + "ffn_down.weight", linear_type(q, ff), ff, d, linear_values(ff));
    t.add(b + "post_ffw_norm.weight", GgmlType::kF32, d, 0, norm_values());
    if (p > 0) {
      t.add(b + "inp_gate.weight", linear_type(q, d), d, p, linear_values(d));
      t.add(b + "proj.weight", linear_type(q, p), p, d, linear_values(p));
      t.add(b + "post_norm.weight", GgmlType::kF32, d, 0, norm_values());
    }
    t.add(b + "layer_output_scale.weight", GgmlType::kF32, 1, 0, layer_scale_values());
  }
  return t.take();
}

void write_model_keys(gguf::GgufWriter& w, const engine::Gemma4Config& c, const std::string& name,
                      SynthQuant q) {
  w.set_string("general.architecture", "gemma4");
  w.set_string("general.type", "model");
  w.set_string("general.name", name);
  w.set_u32("general.file_type", q == SynthQuant::kF32 ? kFileTypeAllF32 : kFileTypeMostlyQ4_0);
  w.set_u32("general.quantization_version", 2);
  w.set_u32("general.alignment", 32);
  w.set_i32("general.sampling.top_k", 64);
  w.set_f32("general.sampling.top_p", 0.95f);
  w.set_f32("general.sampling.temp", 1.0f);
  const std::string a = "gemma4.";
  w.set_u32(a + "context_length", c.n_ctx_train);
  w.set_u32(a + "embedding_length", c.n_embd);
  w.set_u32(a + "block_count", c.n_layer);
  bool uniform_ff = true;
  for (uint32_t v : c.n_ff)
    uniform_ff = uniform_ff && v == c.n_ff[0];
  if (uniform_ff) {
    w.set_u32(a + "feed_forward_length", c.n_ff[0]);
  } else {  // §3.2: an i32 array only when widths differ (E2B's double-wide MLP)
    std::vector<int32_t> ff(c.n_ff.begin(), c.n_ff.end());
    w.set_i32_array(a + "feed_forward_length", ff);
  }
  w.set_u32(a + "attention.head_count", c.n_head);
  w.set_u32(a + "attention.head_count_kv", c.n_head_kv);
  w.set_u32(a + "attention.key_length", c.head_dim_full);
  w.set_u32(a + "attention.value_length", c.head_dim_full);
  w.set_u32(a + "attention.key_length_swa", c.head_dim_swa);
  w.set_u32(a + "attention.value_length_swa", c.head_dim_swa);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_u32(a + "attention.sliding_window", c.n_swa);
  // std::vector<bool> has no contiguous storage; hand the writer a plain bool array.
  std::unique_ptr<bool[]> pattern(new bool[c.n_layer]);
  for (uint32_t il = 0; il < c.n_layer; ++il)
    pattern[il] = c.is_swa[il];
  w.set_bool_array(a + "attention.sliding_window_pattern",
                   std::span<const bool>(pattern.get(), c.n_layer));
  w.set_u32(a + "attention.shared_kv_layers", c.n_layer_kv_shared);
  w.set_u32(a + "embedding_length_per_layer_input", c.n_embd_per_layer);
  w.set_f32(a + "rope.freq_base", c.rope_base_full);
  w.set_f32(a + "rope.freq_base_swa", c.rope_base_swa);
  w.set_u32(a + "rope.dimension_count", c.n_rot_full);
  w.set_u32(a + "rope.dimension_count_swa", c.n_rot_swa);
  w.set_f32(a + "final_logit_softcapping", c.final_logit_softcap);
}

Result<SynthSummary> write_synthetic_model(
    const SynthOptions& opts, const std::string& out_path,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  std::optional<engine::Gemma4Config> preset = engine::Gemma4Config::preset(opts.preset);
  if (!preset) {
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown preset '" + opts.preset + "'; expected tiny, e2b or e4b");
  }
  engine::Gemma4Config c = *preset;
  SynthSummary summary;
  summary.name = "gemmad-synthetic-" + opts.preset + "-" + quant_name(opts.quant);

  gguf::GgufWriter w(32);
  write_model_keys(w, c, summary.name, opts.quant);

  // Tokenizer keys: copied from a vocabulary GGUF (its size sets n_vocab), or built in.
  std::unique_ptr<gguf::GgufFile> vocab_file;
  if (!opts.vocab_path.empty()) {
    GEMMAD_ASSIGN_OR_RETURN(vocab_file, gguf::GgufFile::open(opts.vocab_path));
    const gguf::KeyValue* toks = vocab_file->find("tokenizer.ggml.tokens");
    if (toks == nullptr || toks->type != gguf::ValueType::kArray ||
        toks->array_type != gguf::ValueType::kString) {
      return make_error(
          ErrorCode::kBadModelFile,
          opts.vocab_path + ": key 'tokenizer.ggml.tokens' (string array) is missing");
    }
    if (toks->array_count == 0 || toks->array_count > kMaxVocab) {
      return make_error(ErrorCode::kBadModelFile, opts.vocab_path + ": tokenizer.ggml.tokens has " +
                                                      std::to_string(toks->array_count) +
                                                      " entries; expected 1.." +
                                                      std::to_string(kMaxVocab));
    }
    c.n_vocab = static_cast<uint32_t>(toks->array_count);
    for (const gguf::KeyValue& kv : vocab_file->metadata()) {
      if (kv.key.rfind("tokenizer.", 0) == 0) w.copy_kv(kv);
    }
  } else {
    GEMMAD_ASSIGN_OR_RETURN(SynthVocab v, build_builtin_vocab(c.n_vocab));
    write_vocab_keys(w, v);
  }
  summary.n_vocab = c.n_vocab;

  summary.n_tensors =
      add_planned_tensors(w, plan_tensors(c, opts.quant, opts.shared_kv), opts.seed);
  GEMMAD_ASSIGN_OR_RETURN(summary.file_bytes, write_file(w, out_path, progress));
  return summary;
}

uint64_t add_planned_tensors(gguf::GgufWriter& w, std::vector<TensorPlan> plan, uint64_t seed) {
  for (TensorPlan& t : plan) {
    uint64_t n_rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d)
      n_rows *= t.ne[d];
    w.add_tensor_rows(t.name, t.type, t.ne,
                      make_fill(t.name, t.type, t.ne[0], n_rows, seed, std::move(t.values)));
  }
  return plan.size();
}

Result<uint64_t> write_file(const gguf::GgufWriter& w, const std::string& out_path,
                            const std::function<void(uint64_t, uint64_t)>& progress) {
  GEMMAD_TRY(w.write(out_path, progress));
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(out_path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, out_path + ": cannot stat the written file: " + ec.message());
  }
  return bytes;
}

}  // namespace gemmad::synth
