// Writes a deterministic mmproj GGUF (docs/ENCODERS.md §5) matched to a synthetic text model:
// the vision tower (v.*, mm.input_projection) in the real layout, with finite clip bounds that
// bind, for tests, benchmarks and the NumPy reference, and the preset's audio tower, added by
// the audio encoder's writer (engine/audio/synth_audio.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "audio/synth_audio.h"
#include "common/result.h"
#include "mmproj/vision_layout.h"
#include "quant/ggml_type.h"
#include "synth/synth_model.h"

namespace gemmad::synth {

enum class MmprojQuant {
  kF32,   // every tensor F32
  kF16,   // the converter's F16 file: 2-D weights and the patch kernel F16 (§5.4)
  kQ8_0,  // the converter's Q8_0 file: 2-D weights Q8_0, patch kernel F32
};

struct MmprojOptions {
  std::string preset = "tiny";  // text preset it pairs with: "tiny" | "e2b" | "e4b"
  MmprojQuant quant = MmprojQuant::kF16;
  uint64_t seed = 0;
  bool with_audio = true;  // the preset's audio tower too (false: a vision-only file)
};

// Vision shape of a preset: the real tower (768 wide, 16 layers) for e2b/e4b, a reduced one of
// the same structure for tiny; proj_dim = the text preset's width.
std::optional<mmproj::VisionHparams> vision_preset(const std::string& text_preset);

// The vision tensor plan (names and shapes of mmproj::vision_tensor_table, with types and
// value distributions).
std::vector<TensorPlan> plan_vision_tensors(const mmproj::VisionHparams& h, MmprojQuant q);

Result<SynthSummary> write_synthetic_mmproj(
    const MmprojOptions& opts, const std::string& out_path,
    const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

// The same for any vision shape (fuzz seeds, tests); general.name = `name`. With `audio`, the
// audio tower of that shape is added (engine/audio/synth_audio.h); without, the file is
// vision-only.
Result<SynthSummary> write_vision_mmproj(
    const mmproj::VisionHparams& h, MmprojQuant quant, uint64_t seed, const std::string& name,
    const std::string& out_path, const std::function<void(uint64_t, uint64_t)>& progress = nullptr,
    const audio::SynthAudioShape* audio = nullptr);

const char* mmproj_quant_name(MmprojQuant q);

}  // namespace gemmad::synth
