// The vision half of the mmproj GGUF as data (docs/ENCODERS.md §5): its hyperparameter keys and
// the tensor table they imply (names, ggml shapes, which tensors must be F32), shared by the
// validator (MmprojFile), the encoder (VisionEncoder::bind) and the synthetic writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::gguf {
class GgufFile;
}

namespace gemmad::mmproj {

struct VisionHparams {
  uint32_t n_embd = 0;    // clip.vision.embedding_length (768)
  uint32_t n_ff = 0;      // clip.vision.feed_forward_length (3072)
  uint32_t n_layer = 0;   // clip.vision.block_count (16)
  uint32_t n_head = 0;    // clip.vision.attention.head_count (12)
  uint32_t patch = 16;    // clip.vision.patch_size (16; the preprocessing assumes it)
  uint32_t proj_dim = 0;  // clip.vision.projection_dim (text width d)
  uint32_t n_pos = 0;     // rows of each position table (10240): v.position_embd.weight ne[1]
  float eps = 1e-6f;      // clip.vision.attention.layer_norm_epsilon
  uint32_t head_dim() const { return n_head == 0 ? 0 : n_embd / n_head; }
};

// The seven clipped linears of a block, in GGUF spelling (docs/ENCODERS.md §5.2).
inline constexpr const char* kVisionLinears[] = {"attn_q",   "attn_k", "attn_v",  "attn_out",
                                                 "ffn_gate", "ffn_up", "ffn_down"};
// The four clip-bound scalars of a clipped linear: `<linear>.<bound>`.
inline constexpr const char* kClipBounds[] = {"input_min", "input_max", "output_min", "output_max"};

struct ExpectedTensor {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order
  bool f32_only = false;     // norms, tables, clip bounds: stored F32 by every converter
  bool optional = false;     // clip bounds: a missing one means ±infinity
};

// Reads and checks the clip.vision.* keys (and n_pos from the position table's shape). Errors
// name the key, its value and the accepted range.
Result<VisionHparams> read_vision_hparams(const gguf::GgufFile& f);
// Every v.* / mm.* tensor of the vision tower for `h` (E2B/E4B have no out_scale/std tensors).
std::vector<ExpectedTensor> vision_tensor_table(const VisionHparams& h);
// Checks the file's vision tensors against the table: present (or optional), shape, type
// (computable; F32 where required; row length a multiple of the block size).
Status check_vision_tensors(const gguf::GgufFile& f, const VisionHparams& h);

}  // namespace gemmad::mmproj
