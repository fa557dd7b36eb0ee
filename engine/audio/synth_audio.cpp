// Synthetic audio tower: the a.* / mm.a.* tensor table of docs/ENCODERS.md §3.4 with hashed
// values scaled so activations stay O(1) through every layer.
#include "audio/synth_audio.h"

#include <cmath>
#include <string>
#include <vector>

#include "synth/synth_weights.h"

namespace gemmad::audio {
namespace {

using quant::GgmlType;
using synth::ValueSpec;

constexpr float kSqrt3 = 1.7320508f;

// Unit-gain linears (std 1/sqrt(n_in)); RMSNorm weights in [0.6, 1.4]; per-dim scales
// (stored already softplus'ed, so positive) in [0.7, 1.3]; SSCP LayerNorm weights likewise.
ValueSpec linear_values(uint64_t n_in) {
  return {0.0f, kSqrt3 / std::sqrt(static_cast<float>(n_in)), {}};
}
ValueSpec norm_values() {
  return {1.0f, 0.4f, {}};
}

// Clip bounds. Inputs of the clipped linears are RMS-normalised or O(1), so |x| > 2.5 is a
// few per cent of values; outputs are unit-gain, so |y| > 3 is rarer but happens.
constexpr float kInBound = 2.5f;
constexpr float kOutBound = 3.0f;

struct Adder {
  gguf::GgufWriter& w;
  uint64_t seed;
  uint64_t count = 0;

  void tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, ValueSpec v) {
    uint64_t n_rows = 1;
    for (size_t i = 1; i < ne.size(); ++i)
      n_rows *= ne[i];
    const uint64_t n_cols = ne[0];
    ++count;
    w.add_tensor_rows(name, type, std::move(ne),
                      synth::make_fill(name, type, n_cols, n_rows, seed, std::move(v)));
  }
  void scalar(const std::string& name, float v) { tensor(name, GgmlType::kF32, {1}, {0, 0, {v}}); }
  void vec(const std::string& name, uint64_t n, ValueSpec v) {
    tensor(name, GgmlType::kF32, {n}, std::move(v));
  }
  // A clipped linear {n_in, n_out} and its four bounds.
  void clipped(const std::string& base, GgmlType type, uint64_t n_in, uint64_t n_out) {
    tensor(base + ".weight", type, {n_in, n_out}, linear_values(n_in));
    scalar(base + ".input_min", -kInBound);
    scalar(base + ".input_max", kInBound);
    scalar(base + ".output_min", -kOutBound);
    scalar(base + ".output_max", kOutBound);
  }
};

}  // namespace

std::optional<SynthAudioShape> synth_audio_shape(std::string_view preset) {
  if (preset == "e2b" || preset == "e4b") return SynthAudioShape{1024, 4096, 12, 8, 128, 32, 1536};
  if (preset == "tiny") return SynthAudioShape{64, 128, 2, 2, 8, 4, 96};
  return std::nullopt;
}

uint64_t write_synth_audio_tensors(gguf::GgufWriter& w, const SynthAudioShape& s, uint32_t text_d,
                                   GgmlType matrix_type, uint64_t seed) {
  w.set_bool("clip.has_audio_encoder", true);
  w.set_string("clip.audio.projector_type", "gemma4a");
  w.set_u32("clip.audio.projection_dim", text_d);
  w.set_u32("clip.audio.embedding_length", s.hidden);
  w.set_u32("clip.audio.feed_forward_length", s.n_ff);
  w.set_u32("clip.audio.block_count", s.n_layer);
  w.set_u32("clip.audio.attention.head_count", s.n_head);
  w.set_u32("clip.audio.num_mel_bins", 128);
  w.set_f32("clip.audio.attention.layer_norm_epsilon", 1e-6f);

  Adder a{w, seed, 0};
  const GgmlType f32 = GgmlType::kF32;
  const uint64_t h = s.hidden;
  const uint64_t flat = uint64_t{32} * s.sscp_c2;  // 128 mel bins / 4 after two stride-2 convs
  // Subsampling: conv kernels {freq 3, time 3, in, out}.
  a.tensor("a.conv1d.0.weight", f32, {3, 3, 1, s.sscp_c1}, linear_values(9));
  a.vec("a.conv1d.0.norm.weight", s.sscp_c1, norm_values());
  a.tensor("a.conv1d.1.weight", f32, {3, 3, s.sscp_c1, s.sscp_c2},
           linear_values(uint64_t{9} * s.sscp_c1));
  a.vec("a.conv1d.1.norm.weight", s.sscp_c2, norm_values());
  a.tensor("a.input_projection.weight", f32, {flat, h}, linear_values(flat));

  const uint32_t head_dim = s.hidden / s.n_head;
  for (uint32_t il = 0; il < s.n_layer; ++il) {
    const std::string p = "a.blk." + std::to_string(il) + ".";
    for (const char* n : {"ffn_norm", "ffn_post_norm", "ffn_norm_1", "ffn_post_norm_1",
                          "attn_pre_norm", "attn_post_norm", "conv_norm", "norm_conv", "ln2"})
      a.vec(p + n + ".weight", h, norm_values());
    a.clipped(p + "ffn_up", matrix_type, h, s.n_ff);
    a.clipped(p + "ffn_down", matrix_type, s.n_ff, h);
    a.clipped(p + "ffn_up_1", matrix_type, h, s.n_ff);
    a.clipped(p + "ffn_down_1", matrix_type, s.n_ff, h);
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_out"})
      a.clipped(p + n, matrix_type, h, h);
    a.tensor(p + "attn_k_rel.weight", matrix_type, {h, h}, linear_values(h));
    a.vec(p + "per_dim_scale.weight", head_dim, {1.0f, 0.3f, {}});
    a.clipped(p + "conv_pw1", matrix_type, h, 2 * h);
    a.clipped(p + "conv_pw2", matrix_type, h, h);
    a.tensor(p + "conv_dw.weight", f32, {5, h}, linear_values(5));
  }
  a.tensor("a.pre_encode.out.weight", matrix_type, {h, s.out_dim}, linear_values(h));
  a.vec("a.pre_encode.out.bias", s.out_dim, {0.0f, 0.1f, {}});
  a.tensor("mm.a.input_projection.weight", matrix_type, {s.out_dim, text_d},
           linear_values(s.out_dim));
  return a.count;
}

Status write_synth_audio_mmproj(const std::string& path, const SynthAudioShape& shape,
                                uint32_t text_d, GgmlType matrix_type, uint64_t seed) {
  gguf::GgufWriter w;
  w.set_string("general.architecture", "clip");
  w.set_string("general.type", "mmproj");
  // llama_ftype of the converter outputs: all F32 0, F16 1, Q8_0 7, BF16 32.
  uint32_t ftype = 0;
  if (matrix_type == GgmlType::kF16) ftype = 1;
  if (matrix_type == GgmlType::kQ8_0) ftype = 7;
  if (matrix_type == GgmlType::kBF16) ftype = 32;
  w.set_u32("general.file_type", ftype);
  w.set_bool("clip.has_vision_encoder", false);
  write_synth_audio_tensors(w, shape, text_d, matrix_type, seed);
  return w.write(path);
}

}  // namespace gemmad::audio
