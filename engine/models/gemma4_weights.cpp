// Gemma 4 tensor table: names, shapes, required/optional/shared, bound as mapping views.
#include "models/gemma4_weights.h"

#include <cmath>
#include <string>

#include "gguf/gguf_file.h"
#include "kernels/act_i8.h"
#include "quant/ggml_type.h"
#include "quant/scaled_codes.h"

namespace gemmad::engine {
namespace {

enum class Need { kRequired, kOptional };

std::string shape_str(const uint64_t* ne, uint32_t n_dims) {
  std::string s = "{";
  for (uint32_t i = 0; i < n_dims; ++i)
    s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

Error tensor_error(const std::string& name, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "tensor '" + name + "': " + what);
}

}  // namespace

// Looks tensors up, checks them against the table and records the bytes a decode step reads.
class Gemma4WeightBinder {
 public:
  Gemma4WeightBinder(const gguf::GgufFile& f, Gemma4Weights& w) : f_(f), w_(w) {}

  // A tensor of exactly `ne` (ggml order), or nullptr when optional and absent.
  Result<const gguf::TensorInfo*> find(const std::string& name, std::initializer_list<uint64_t> ne,
                                       Need need) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (need == Need::kOptional) return static_cast<const gguf::TensorInfo*>(nullptr);
      return make_error(ErrorCode::kBadModelFile, "required tensor '" + name + "' is missing");
    }
    const std::vector<uint64_t> want(ne);
    bool same = t->n_dims == want.size();
    for (size_t i = 0; same && i < want.size(); ++i)
      same = t->ne[i] == want[i];
    if (!same) {
      return tensor_error(name, "shape " + shape_str(t->ne, t->n_dims) + "; expected " +
                                    shape_str(want.data(), static_cast<uint32_t>(want.size())));
    }
    if (!quant::traits(t->type).computable && !quant::is_scaled_codes(t->type)) {
      return tensor_error(name, "type " + std::string(quant::traits(t->type).name) +
                                    " is not supported by this engine");
    }
    return t;
  }

  Result<kernels::WeightView> matrix_view(const gguf::TensorInfo& t) {
    GEMMAD_ASSIGN_OR_RETURN(uint64_t rb, quant::row_bytes(t.type, t.ne[0]));
    if (rb * t.ne[1] != t.n_bytes) {
      return tensor_error(t.name, "holds " + std::to_string(t.n_bytes) + " bytes; expected " +
                                      std::to_string(rb * t.ne[1]));
    }
    kernels::WeightView v{t.type, static_cast<int64_t>(t.ne[0]), static_cast<int64_t>(t.ne[1]),
                          t.data, rb};
    if (quant::is_scaled_codes(t.type)) {
      GEMMAD_TRY(bind_scales(t, &v));
    }
    return v;
  }

  // The `<weight>_scale` companion of a scaled-code matrix: f32 {n_groups, n_out}, groups of
  // a multiple of 32 elements (what the kernels step by) no longer than kMaxGroup, finite.
  Status bind_scales(const gguf::TensorInfo& t, kernels::WeightView* v) {
    const std::string sname = t.name + "_scale";
    const gguf::TensorInfo* s = f_.find_tensor(sname);
    if (s == nullptr) {
      return tensor_error(t.name, "type " + std::string(quant::traits(t.type).name) +
                                      " needs its scale tensor '" + sname + "', which is missing");
    }
    if (s->type != quant::GgmlType::kF32 || s->n_dims != 2 || s->ne[1] != t.ne[1] ||
        s->ne[0] == 0 || t.ne[0] % s->ne[0] != 0) {
      return tensor_error(sname, "must be f32 {n_groups, " + std::to_string(t.ne[1]) +
                                     "} with n_groups dividing " + std::to_string(t.ne[0]) +
                                     "; it is " + std::string(quant::traits(s->type).name) + " " +
                                     shape_str(s->ne, s->n_dims));
    }
    const uint64_t group = t.ne[0] / s->ne[0];
    if (group % 32 != 0 || group > static_cast<uint64_t>(kernels::kMaxGroup)) {
      return tensor_error(sname, "group of " + std::to_string(group) +
                                     " elements; must be a multiple of 32 and at most " +
                                     std::to_string(kernels::kMaxGroup));
    }
    const auto* vals = reinterpret_cast<const float*>(s->data);
    for (uint64_t i = 0; i < s->n_elements; ++i) {
      if (!std::isfinite(vals[i])) {
        return tensor_error(sname, "holds a non-finite value at index " + std::to_string(i));
      }
    }
    v->scales = vals;
    v->group = static_cast<int64_t>(group);
    bytes_ += s->n_bytes;
    return {};
  }

  // Static activation scales of a scaled-code linear (`name`.input_act_scale / output_act_scale,
  // {1} f32): >= 0 and finite; 0 (or absent) = uncalibrated, skipped.
  Status act_scales(const std::string& name, Linear* out) {
    for (const char* which : {".input_act_scale", ".output_act_scale"}) {
      float v = 0.0f;
      GEMMAD_TRY(scalar(name + which, &v));
      if (v < 0.0f) {
        return tensor_error(name + which, "is " + std::to_string(v) + "; must be >= 0");
      }
      if (v > 0.0f && !quant::is_scaled_codes(out->w.type)) {
        return tensor_error(name + which, "is set but '" + name + ".weight' is " +
                                              std::string(quant::traits(out->w.type).name) +
                                              ", not a scaled-code type");
      }
      (which[1] == 'i' ? out->w.in_scale : out->out_scale) = v;
    }
    return {};
  }

  // `name`.weight {n_in, n_out} and its optional `name`.scale {1}; counted per decoded token.
  Status linear(const std::string& name, uint64_t n_in, uint64_t n_out, Need need, Linear* out) {
    const std::string wname = name + ".weight";
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(wname, {n_in, n_out}, need));
    if (t == nullptr) return {};
    GEMMAD_ASSIGN_OR_RETURN(out->w, matrix_view(*t));
    GEMMAD_TRY(scalar(name + ".scale", &out->scale));
    GEMMAD_TRY(act_scales(name, out));
    bytes_ += t->n_bytes;
    return {};
  }

  // A norm weight [n]; f32 is used in place, other float types are widened once.
  Status vec(const std::string& name, uint64_t n, Need need, const float** out) {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {n}, need));
    if (t == nullptr) return {};
    bytes_ += t->n_bytes;
    if (t->type == quant::GgmlType::kF32) {
      *out = reinterpret_cast<const float*>(t->data);
    } else {
      auto copy = std::make_unique<float[]>(n);
      quant::dequantize_row_ref(t->type, t->data, copy.get(), static_cast<int64_t>(n));
      *out = copy.get();
      w_.owned_norms_.push_back(std::move(copy));
    }
    for (uint64_t i = 0; i < n; ++i) {
      if (!std::isfinite((*out)[i])) return tensor_error(name, "holds a non-finite value");
    }
    return {};
  }

  // An optional one-element tensor (layer_output_scale, `*.scale`); keeps *out if absent.
  Status scalar(const std::string& name, float* out) {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {1}, Need::kOptional));
    if (t == nullptr) return {};
    float v = 0.0f;
    quant::dequantize_row_ref(t->type, t->data, &v, 1);
    if (!std::isfinite(v)) return tensor_error(name, "holds a non-finite value");
    *out = v;
    return {};
  }

  void add_bytes(uint64_t n) { bytes_ += n; }
  uint64_t bytes() const { return bytes_; }

 private:
  const gguf::GgufFile& f_;
  Gemma4Weights& w_;
  uint64_t bytes_ = 0;
};

Result<std::unique_ptr<Gemma4Weights>> Gemma4Weights::bind(const gguf::GgufFile& file,
                                                           const Gemma4Config& c) {
  std::unique_ptr<Gemma4Weights> w(new Gemma4Weights());
  Gemma4WeightBinder b(file, *w);
  const uint64_t d = c.n_embd, V = c.n_vocab, p = c.n_embd_per_layer, L = c.n_layer;
  const Need ple = p > 0 ? Need::kRequired : Need::kOptional;

  // Globals (§3.3). token_embd is both the embedding table (one row per token) and the tied
  // LM head (read whole every token).
  {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                            b.find("token_embd.weight", {d, V}, Need::kRequired));
    GEMMAD_ASSIGN_OR_RETURN(w->token_embd, b.matrix_view(*t));
    b.add_bytes(w->token_embd.row_bytes);  // the embedding row
  }
  GEMMAD_TRY(b.linear("output", d, V, Need::kOptional, &w->output));
  if (!w->output.present()) {
    w->output.w = w->token_embd;
    GEMMAD_TRY(b.scalar("output.scale", &w->output.scale));
    GEMMAD_TRY(b.act_scales("output", &w->output));
    b.add_bytes(file.find_tensor("token_embd.weight")->n_bytes);
  }
  if (p > 0) {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t,
                            b.find("per_layer_token_embd.weight", {L * p, V}, Need::kRequired));
    GEMMAD_ASSIGN_OR_RETURN(w->per_layer_token_embd, b.matrix_view(*t));
    b.add_bytes(w->per_layer_token_embd.row_bytes);  // one PLE row per token
    GEMMAD_TRY(b.linear("per_layer_model_proj", d, L * p, ple, &w->per_layer_model_proj));
    GEMMAD_TRY(b.vec("per_layer_proj_norm.weight", p, ple, &w->per_layer_proj_norm));
  }
  GEMMAD_TRY(b.vec("output_norm.weight", d, Need::kRequired, &w->output_norm));
  // rope_freqs is read by Gemma4Config (it shapes RoPE); checked here so a file without it
  // fails by name rather than rotating every pair of the full layers (§1.4).
  GEMMAD_TRY(b.find("rope_freqs.weight", {c.n_rot_full / 2}, Need::kRequired));

  w->layers.resize(L);
  for (uint32_t il = 0; il < L; ++il) {
    Gemma4LayerWeights& lw = w->layers[il];
    const std::string n = "blk." + std::to_string(il) + ".";
    const uint64_t hd = c.head_dim(il);
    const uint64_t q_dim = c.n_head * hd, kv_dim = c.n_head_kv * hd, ff = c.n_ff[il];
    GEMMAD_TRY(b.vec(n + "attn_norm.weight", d, Need::kRequired, &lw.attn_norm));
    GEMMAD_TRY(b.linear(n + "attn_q", d, q_dim, Need::kRequired, &lw.attn_q));
    GEMMAD_TRY(b.vec(n + "attn_q_norm.weight", hd, Need::kRequired, &lw.attn_q_norm));
    if (c.owns_kv(il)) {  // KV-shared layers: ignore attn_k/attn_v/attn_k_norm (§1.6)
      GEMMAD_TRY(b.linear(n + "attn_k", d, kv_dim, Need::kRequired, &lw.attn_k));
      GEMMAD_TRY(b.linear(n + "attn_v", d, kv_dim, Need::kOptional, &lw.attn_v));
      GEMMAD_TRY(b.vec(n + "attn_k_norm.weight", hd, Need::kRequired, &lw.attn_k_norm));
    }
    GEMMAD_TRY(b.linear(n + "attn_output", q_dim, d, Need::kRequired, &lw.attn_output));
    GEMMAD_TRY(
        b.vec(n + "post_attention_norm.weight", d, Need::kRequired, &lw.post_attention_norm));
    GEMMAD_TRY(b.vec(n + "ffn_norm.weight", d, Need::kRequired, &lw.ffn_norm));
    GEMMAD_TRY(b.linear(n + "ffn_gate", d, ff, Need::kRequired, &lw.ffn_gate));
    GEMMAD_TRY(b.linear(n + "ffn_up", d, ff, Need::kRequired, &lw.ffn_up));
    GEMMAD_TRY(b.linear(n + "ffn_down", ff, d, Need::kRequired, &lw.ffn_down));
    GEMMAD_TRY(b.vec(n + "post_ffw_norm.weight", d, Need::kRequired, &lw.post_ffw_norm));
    if (p > 0) {
      GEMMAD_TRY(b.linear(n + "inp_gate", d, p, Need::kRequired, &lw.inp_gate));
      GEMMAD_TRY(b.linear(n + "proj", p, d, Need::kRequired, &lw.proj));
      GEMMAD_TRY(b.vec(n + "post_norm.weight", d, Need::kRequired, &lw.post_norm));
    }
    GEMMAD_TRY(b.scalar(n + "layer_output_scale.weight", &lw.layer_output_scale));
  }
  w->bytes_per_token_ = b.bytes();
  return w;
}

}  // namespace gemmad::engine
