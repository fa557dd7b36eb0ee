// Synthetic mmproj writer: clip.* keys and the vision tensor table of docs/ENCODERS.md §5.
#include "synth/synth_mmproj.h"

#include <string_view>

#include "audio/synth_audio.h"
#include "gguf/gguf_writer.h"
#include "models/gemma4_config.h"
#include "synth/synth_weights.h"

namespace gemmad::synth {
namespace {

using quant::GgmlType;

// llama_ftype values for general.file_type (§5.1).
uint32_t file_type(MmprojQuant q) {
  switch (q) {
    case MmprojQuant::kF32:
      return 0;
    case MmprojQuant::kF16:
      return 1;
    case MmprojQuant::kQ8_0:
      return 7;
  }
  return 0;
}

GgmlType matrix_type(MmprojQuant q) {
  switch (q) {
    case MmprojQuant::kF32:
      return GgmlType::kF32;
    case MmprojQuant::kF16:
      return GgmlType::kF16;
    case MmprojQuant::kQ8_0:
      return GgmlType::kQ8_0;
  }
  return GgmlType::kF32;
}

// Value scales (synth_model.h) keep activations O(1) through the tower; position rows are small
// next to the patch projection. Clip bounds: inputs of a linear are normed (|x| ~ 1) so ±2.5
// clips the tails; outputs ±3 likewise (docs/ENCODERS.md: synthetic files carry finite bounds
// so the clamp path is exercised).
ValueSpec constant(float v) {
  return {0.0f, 0.0f, {v}};
}

}  // namespace

const char* mmproj_quant_name(MmprojQuant q) {
  switch (q) {
    case MmprojQuant::kF32:
      return "f32";
    case MmprojQuant::kF16:
      return "f16";
    case MmprojQuant::kQ8_0:
      return "q8_0";
  }
  return "?";
}

std::optional<mmproj::VisionHparams> vision_preset(const std::string& text_preset) {
  std::optional<engine::Gemma4Config> text = engine::Gemma4Config::preset(text_preset);
  if (!text) return std::nullopt;
  mmproj::VisionHparams h;
  h.proj_dim = text->n_embd;
  h.patch = 16;
  h.eps = 1e-6f;
  if (text_preset == "tiny") {
    // Same structure at toy size: two blocks, two heads of 32 (RoPE halves of 16), and a
    // position table of 256 rows (images up to 256 patches a side, 4096 px).
    h.n_embd = 64;
    h.n_ff = 128;
    h.n_layer = 2;
    h.n_head = 2;
    h.n_pos = 256;
  } else {
    h.n_embd = 768;
    h.n_ff = 3072;
    h.n_layer = 16;
    h.n_head = 12;
    h.n_pos = 10240;
  }
  return h;
}

std::vector<TensorPlan> plan_vision_tensors(const mmproj::VisionHparams& h, MmprojQuant q) {
  std::vector<TensorPlan> plan;
  const uint64_t hd = h.head_dim();
  for (const mmproj::ExpectedTensor& t : mmproj::vision_tensor_table(h)) {
    TensorPlan p{t.name, GgmlType::kF32, t.ne, {}};
    const std::string_view n = t.name;
    const auto ends = [&](std::string_view s) {
      return n.size() >= s.size() && n.substr(n.size() - s.size()) == s;
    };
    if (n == "v.patch_embd.weight") {
      // §5.4: the patch kernel is F16 only in an F16 file.
      p.type = q == MmprojQuant::kF16 ? GgmlType::kF16 : GgmlType::kF32;
      p.values = linear_values(uint64_t{h.patch} * h.patch * 3);
    } else if (n == "v.position_embd.weight") {
      p.values = {0.0f, 0.5f, {}};
    } else if (ends("attn_q_norm.weight") || ends("attn_k_norm.weight")) {
      p.values = qk_norm_values(static_cast<uint32_t>(hd));
    } else if (ends("norm.weight") || ends("ln1.weight") || ends("ln2.weight")) {
      p.values = norm_values();
    } else if (ends(".input_min")) {
      p.values = constant(-2.5f);
    } else if (ends(".input_max")) {
      p.values = constant(2.5f);
    } else if (ends(".output_min")) {
      p.values = constant(-3.0f);
    } else if (ends(".output_max")) {
      p.values = constant(3.0f);
    } else {  // the block linears and mm.input_projection
      p.type = matrix_type(q);
      p.values = linear_values(t.ne[0]);
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

Result<SynthSummary> write_synthetic_mmproj(
    const MmprojOptions& opts, const std::string& out_path,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  std::optional<mmproj::VisionHparams> h = vision_preset(opts.preset);
  if (!h) {
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown preset '" + opts.preset + "'; expected tiny, e2b or e4b");
  }
  // The preset's audio tower too, as the converter's files for E2B/E4B hold both.
  std::optional<audio::SynthAudioShape> audio;
  if (opts.with_audio) audio = audio::synth_audio_shape(opts.preset);
  return write_vision_mmproj(
      *h, opts.quant, opts.seed,
      "gemmad-synthetic-mmproj-" + opts.preset + "-" + mmproj_quant_name(opts.quant), out_path,
      progress, audio ? &*audio : nullptr);
}

Result<SynthSummary> write_vision_mmproj(const mmproj::VisionHparams& hp, MmprojQuant quant,
                                         uint64_t seed, const std::string& name,
                                         const std::string& out_path,
                                         const std::function<void(uint64_t, uint64_t)>& progress,
                                         const audio::SynthAudioShape* audio) {
  const mmproj::VisionHparams* h = &hp;
  SynthSummary summary;
  summary.name = name;
  gguf::GgufWriter w(32);
  w.set_string("general.architecture", "clip");
  w.set_string("general.type", "mmproj");
  w.set_string("general.name", summary.name);
  w.set_u32("general.file_type", file_type(quant));
  w.set_u32("general.quantization_version", 2);
  w.set_bool("clip.has_vision_encoder", true);
  if (audio == nullptr) w.set_bool("clip.has_audio_encoder", false);  // else the audio writer
  w.set_string("clip.vision.projector_type", "gemma4v");
  w.set_u32("clip.vision.projection_dim", h->proj_dim);
  w.set_u32("clip.vision.image_size", 224);  // written by the converter, unused (§5.1)
  w.set_u32("clip.vision.patch_size", h->patch);
  w.set_u32("clip.vision.embedding_length", h->n_embd);
  w.set_u32("clip.vision.feed_forward_length", h->n_ff);
  w.set_u32("clip.vision.block_count", h->n_layer);
  w.set_u32("clip.vision.attention.head_count", h->n_head);
  const float mean[3] = {0.0f, 0.0f, 0.0f}, std_[3] = {1.0f, 1.0f, 1.0f};
  w.set_f32_array("clip.vision.image_mean", mean);
  w.set_f32_array("clip.vision.image_std", std_);
  w.set_f32("clip.vision.attention.layer_norm_epsilon", h->eps);

  summary.n_tensors = add_planned_tensors(w, plan_vision_tensors(*h, quant), seed);
  if (audio != nullptr) {
    summary.n_tensors +=
        audio::write_synth_audio_tensors(w, *audio, h->proj_dim, matrix_type(quant), seed);
  }
  GEMMAD_ASSIGN_OR_RETURN(summary.file_bytes, write_file(w, out_path, progress));
  return summary;
}

}  // namespace gemmad::synth
