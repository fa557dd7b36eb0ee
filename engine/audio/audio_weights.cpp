// Binds the audio tower's keys and tensors (docs/ENCODERS.md §3.4) without reading
// any tensor data.
#include "audio/audio_weights.h"

#include <cstdint>

#include "audio/mel_features.h"
#include "gguf/gguf_file.h"
#include "quant/ggml_type.h"

namespace gemmad::audio {
namespace {

// Limits on the key values a file may claim (far above the real 1024 / 4096 / 12 / 8).
constexpr uint64_t kMaxHidden = 8192;
constexpr uint64_t kMaxFf = 65536;
constexpr uint64_t kMaxLayers = 64;
constexpr uint64_t kMaxChannels = 1024;
constexpr uint64_t kMaxOutDim = 16384;

std::string shape_str(const uint64_t* ne, uint32_t n) {
  std::string s = "{";
  for (uint32_t i = 0; i < n; ++i)
    s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "}";
}

Error tensor_error(const std::string& name, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "tensor '" + name + "': " + what);
}

Error key_error(std::string_view key, const std::string& what) {
  return make_error(ErrorCode::kBadModelFile, "key '" + std::string(key) + "': " + what);
}

class Binder {
 public:
  Binder(const gguf::GgufFile& f, AudioWeights& w) : f_(f), w_(w) {}

  // A tensor of exactly `ne` (ggml order, trailing 1s optional in the file), or nullptr when
  // `optional` and absent.
  Result<const gguf::TensorInfo*> find(const std::string& name, std::vector<uint64_t> ne,
                                       bool optional = false) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      if (optional) return t;
      return make_error(ErrorCode::kBadModelFile, "required tensor '" + name + "' is missing");
    }
    bool same = ne.size() <= 4;
    for (size_t i = 0; same && i < 4; ++i)
      same = t->ne[i] == (i < ne.size() ? ne[i] : 1);
    if (!same) {
      return tensor_error(name, "shape " + shape_str(t->ne, t->n_dims) + "; expected " +
                                    shape_str(ne.data(), static_cast<uint32_t>(ne.size())));
    }
    w_.weight_bytes += t->n_bytes;
    w_.tensor_names.push_back(name);
    return t;
  }

  Result<const float*> f32(const std::string& name, std::vector<uint64_t> ne,
                           bool optional = false) {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, std::move(ne), optional));
    if (t == nullptr) return static_cast<const float*>(nullptr);
    if (t->type != quant::GgmlType::kF32) {
      return tensor_error(name,
                          "type " + std::string(quant::traits(t->type).name) + "; expected f32");
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return tensor_error(name, "data is not 4-byte aligned (file alignment " +
                                    std::to_string(f_.alignment()) + ")");
    }
    return reinterpret_cast<const float*>(t->data);
  }

  Result<kernels::WeightView> matrix(const std::string& name, uint64_t n_in, uint64_t n_out) {
    GEMMAD_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, find(name, {n_in, n_out}));
    if (!quant::traits(t->type).computable) {
      return tensor_error(name, "type " + std::string(quant::traits(t->type).name) +
                                    " is not supported for audio weights (f32, f16, bf16, "
                                    "q8_0, q4_0 ...)");
    }
    auto rb = quant::row_bytes(t->type, n_in);
    if (!rb.ok()) return tensor_error(name, rb.error().message);
    return kernels::WeightView{
        t->type, static_cast<int64_t>(n_in), static_cast<int64_t>(n_out), t->data, *rb, nullptr, 0,
        0.0f};
  }

  // A linear `base`.weight and its optional f32 {1} clip bounds.
  Result<ClippedLinear> clipped(const std::string& base, uint64_t n_in, uint64_t n_out) {
    ClippedLinear c;
    GEMMAD_ASSIGN_OR_RETURN(c.w, matrix(base + ".weight", n_in, n_out));
    const char* names[4] = {".input_min", ".input_max", ".output_min", ".output_max"};
    for (int i = 0; i < 4; ++i) {
      GEMMAD_ASSIGN_OR_RETURN(c.bounds[i], f32(base + names[i], {1}, /*optional=*/true));
    }
    return c;
  }

  Result<uint32_t> key_u32(std::string_view key, uint64_t lo, uint64_t hi) {
    GEMMAD_ASSIGN_OR_RETURN(uint64_t v, f_.get_uint(key));
    if (v < lo || v > hi) {
      return key_error(key, "is " + std::to_string(v) + "; expected " + std::to_string(lo) + ".." +
                                std::to_string(hi));
    }
    return static_cast<uint32_t>(v);
  }

 private:
  const gguf::GgufFile& f_;
  AudioWeights& w_;
};

Status bind_hparams(const gguf::GgufFile& f, Binder& b, uint32_t text_d, AudioHparams& hp) {
  GEMMAD_ASSIGN_OR_RETURN(bool has_audio, f.get_bool("clip.has_audio_encoder"));
  if (!has_audio) return key_error("clip.has_audio_encoder", "is false; this file has no audio");
  GEMMAD_ASSIGN_OR_RETURN(std::string_view ptype, f.get_string("clip.audio.projector_type"));
  if (ptype != "gemma4a") {
    return key_error("clip.audio.projector_type",
                     "is '" + std::string(ptype) + "'; expected 'gemma4a'");
  }
  GEMMAD_ASSIGN_OR_RETURN(uint64_t d, f.get_uint("clip.audio.projection_dim"));
  if (d != text_d) {
    return key_error("clip.audio.projection_dim",
                     "is " + std::to_string(d) + " but the text model's width is " +
                         std::to_string(text_d) + " (an mmproj pairs with one text model)");
  }
  hp.text_d = text_d;
  GEMMAD_ASSIGN_OR_RETURN(hp.hidden, b.key_u32("clip.audio.embedding_length", 4, kMaxHidden));
  GEMMAD_ASSIGN_OR_RETURN(hp.n_ff, b.key_u32("clip.audio.feed_forward_length", 1, kMaxFf));
  GEMMAD_ASSIGN_OR_RETURN(hp.n_layer, b.key_u32("clip.audio.block_count", 1, kMaxLayers));
  GEMMAD_ASSIGN_OR_RETURN(hp.n_head, b.key_u32("clip.audio.attention.head_count", 1, hp.hidden));
  GEMMAD_TRY(b.key_u32("clip.audio.num_mel_bins", kMelBins, kMelBins));
  if (hp.hidden % hp.n_head != 0 || hp.hidden % 2 != 0) {
    return key_error("clip.audio.attention.head_count", "is " + std::to_string(hp.n_head) +
                                                            "; it must divide the even width " +
                                                            std::to_string(hp.hidden));
  }
  hp.head_dim = hp.hidden / hp.n_head;
  return {};
}

// Conv channel counts and the output width come from the tensor shapes (no keys exist).
Status bind_dims(const gguf::GgufFile& f, AudioHparams& hp) {
  const auto dim = [&](const char* name, int axis, uint64_t hi, uint32_t* out) -> Status {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (t == nullptr) {
      return make_error(ErrorCode::kBadModelFile,
                        "required tensor '" + std::string(name) + "' is missing");
    }
    if (t->ne[axis] < 1 || t->ne[axis] > hi) {
      return tensor_error(name, "ne[" + std::to_string(axis) + "] is " +
                                    std::to_string(t->ne[axis]) + "; expected 1.." +
                                    std::to_string(hi));
    }
    *out = static_cast<uint32_t>(t->ne[axis]);
    return {};
  };
  GEMMAD_TRY(dim("a.conv1d.0.weight", 3, kMaxChannels, &hp.sscp_c1));
  GEMMAD_TRY(dim("a.conv1d.1.weight", 3, kMaxChannels, &hp.sscp_c2));
  GEMMAD_TRY(dim("a.pre_encode.out.weight", 1, kMaxOutDim, &hp.out_dim));
  return {};
}

Status bind_layer(Binder& b, const AudioHparams& hp, uint32_t il, AudioLayerWeights& l) {
  const std::string p = "a.blk." + std::to_string(il) + ".";
  const uint64_t h = hp.hidden;
  const std::pair<const char*, const float**> norms[] = {{"ffn_norm", &l.ffn_norm},
                                                         {"ffn_post_norm", &l.ffn_post_norm},
                                                         {"ffn_norm_1", &l.ffn_norm_1},
                                                         {"ffn_post_norm_1", &l.ffn_post_norm_1},
                                                         {"attn_pre_norm", &l.attn_pre_norm},
                                                         {"attn_post_norm", &l.attn_post_norm},
                                                         {"conv_norm", &l.conv_norm},
                                                         {"norm_conv", &l.norm_conv},
                                                         {"ln2", &l.ln2}};
  for (const auto& [name, ptr] : norms) {
    GEMMAD_ASSIGN_OR_RETURN(*ptr, b.f32(p + name + ".weight", {h}));
  }
  GEMMAD_ASSIGN_OR_RETURN(l.ffn_up, b.clipped(p + "ffn_up", h, hp.n_ff));
  GEMMAD_ASSIGN_OR_RETURN(l.ffn_down, b.clipped(p + "ffn_down", hp.n_ff, h));
  GEMMAD_ASSIGN_OR_RETURN(l.ffn_up_1, b.clipped(p + "ffn_up_1", h, hp.n_ff));
  GEMMAD_ASSIGN_OR_RETURN(l.ffn_down_1, b.clipped(p + "ffn_down_1", hp.n_ff, h));
  GEMMAD_ASSIGN_OR_RETURN(l.attn_q, b.clipped(p + "attn_q", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.attn_k, b.clipped(p + "attn_k", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.attn_v, b.clipped(p + "attn_v", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.attn_out, b.clipped(p + "attn_out", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.attn_k_rel, b.matrix(p + "attn_k_rel.weight", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.per_dim_scale, b.f32(p + "per_dim_scale.weight", {hp.head_dim}));
  GEMMAD_ASSIGN_OR_RETURN(l.conv_pw1, b.clipped(p + "conv_pw1", h, 2 * h));
  GEMMAD_ASSIGN_OR_RETURN(l.conv_pw2, b.clipped(p + "conv_pw2", h, h));
  GEMMAD_ASSIGN_OR_RETURN(l.conv_dw, b.f32(p + "conv_dw.weight", {5, h}));
  return {};
}

kernels::WeightView f32_matrix(const float* data, uint64_t n_in, uint64_t n_out) {
  return kernels::WeightView{quant::GgmlType::kF32,
                             static_cast<int64_t>(n_in),
                             static_cast<int64_t>(n_out),
                             reinterpret_cast<const uint8_t*>(data),
                             n_in * sizeof(float),
                             nullptr,
                             0,
                             0.0f};
}

}  // namespace

Result<AudioWeights> AudioWeights::bind(const gguf::GgufFile& f, uint32_t text_d) {
  AudioWeights w;
  Binder b(f, w);
  AudioHparams& hp = w.hp;
  GEMMAD_TRY(bind_hparams(f, b, text_d, hp));
  GEMMAD_TRY(bind_dims(f, hp));

  GEMMAD_ASSIGN_OR_RETURN(w.conv0, b.f32("a.conv1d.0.weight", {3, 3, 1, hp.sscp_c1}));
  GEMMAD_ASSIGN_OR_RETURN(w.conv0_norm, b.f32("a.conv1d.0.norm.weight", {hp.sscp_c1}));
  GEMMAD_ASSIGN_OR_RETURN(w.conv1, b.f32("a.conv1d.1.weight", {3, 3, hp.sscp_c1, hp.sscp_c2}));
  GEMMAD_ASSIGN_OR_RETURN(w.conv1_norm, b.f32("a.conv1d.1.norm.weight", {hp.sscp_c2}));
  w.conv0_w = f32_matrix(w.conv0, 9, hp.sscp_c1);
  w.conv1_w = f32_matrix(w.conv1, uint64_t{9} * hp.sscp_c1, hp.sscp_c2);
  const uint64_t flat = uint64_t{kMelBins / 4} * hp.sscp_c2;
  GEMMAD_ASSIGN_OR_RETURN(w.input_projection,
                          b.matrix("a.input_projection.weight", flat, hp.hidden));
  w.layers.resize(hp.n_layer);
  for (uint32_t il = 0; il < hp.n_layer; ++il)
    GEMMAD_TRY(bind_layer(b, hp, il, w.layers[il]));
  GEMMAD_ASSIGN_OR_RETURN(w.out_proj, b.matrix("a.pre_encode.out.weight", hp.hidden, hp.out_dim));
  GEMMAD_ASSIGN_OR_RETURN(w.out_bias, b.f32("a.pre_encode.out.bias", {hp.out_dim}));
  GEMMAD_ASSIGN_OR_RETURN(w.embed_proj,
                          b.matrix("mm.a.input_projection.weight", hp.out_dim, text_d));
  return w;
}

}  // namespace gemmad::audio
