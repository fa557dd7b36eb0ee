// Synthetic audio-tower tensors for a mmproj GGUF (docs/ENCODERS.md §3.4): the real
// names and layout of the a.* / mm.a.* tensors and the clip.audio.* keys, with hashed
// weights (synth/synth_weights.h). The vision synth (synth_mmproj) calls it so that
// `gemmactl model synth --mmproj` writes both towers into one file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "gguf/gguf_writer.h"
#include "quant/ggml_type.h"

namespace gemmad::audio {

// The audio tower's widths. The mel front end (128 bins) and the fixed constants (chunk 12,
// kernel 5, softcap 50) are not part of it.
struct SynthAudioShape {
  uint32_t hidden = 0;   // conformer width (1024)
  uint32_t n_ff = 0;     // FFN width (4096)
  uint32_t n_layer = 0;  // conformer layers (12)
  uint32_t n_head = 0;   // attention heads (8); head dim = hidden / n_head
  uint32_t sscp_c1 = 0;  // channels of the first subsampling conv (128)
  uint32_t sscp_c2 = 0;  // channels of the second (32); flattened width 32 * sscp_c2
  uint32_t out_dim = 0;  // output projection width (1536), the embedder's input
};

// "e2b" and "e4b" (the real tower, identical for both: only the text width d differs) and
// "tiny" (2 layers, widths 64..128, same structure) for tests. nullopt for other names.
std::optional<SynthAudioShape> synth_audio_shape(std::string_view preset);

// Adds the clip.has_audio_encoder / clip.audio.* keys and every a.* tensor plus
// mm.a.input_projection {out_dim, text_d}. 2-D matrices are `matrix_type` (F32, F16, BF16 or
// Q8_0: the converter's ftypes); the conv kernels, a.input_projection, norms, biases and
// clip bounds are F32 as in converted files. Clip bounds are finite and bind on a few per
// cent of values so tests exercise the clamps. Returns the number of tensors added
// (8 + 62 per layer).
uint64_t write_synth_audio_tensors(gguf::GgufWriter& w, const SynthAudioShape& shape,
                                   uint32_t text_d, quant::GgmlType matrix_type, uint64_t seed);

// A whole mmproj file holding only the audio tower (general.* keys as a converter writes
// them, clip.has_vision_encoder false): tests and bench/audio_bench without the vision tower.
Status write_synth_audio_mmproj(const std::string& path, const SynthAudioShape& shape,
                                uint32_t text_d, quant::GgmlType matrix_type, uint64_t seed);

}  // namespace gemmad::audio
