// The audio tower's tensor table (docs/ENCODERS.md §3.4): hyperparameters from the
// clip.audio.* keys, every a.* tensor and mm.a.input_projection checked by name, shape and
// type, and bound as views into the GGUF mapping. Binding reads only the header: no tensor
// byte is touched (clip bounds and norm vectors are read at encode time through pointers),
// so an unused encoder costs no resident memory.
//
// Thread safety: immutable after bind(); shared read-only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "kernels/matmul.h"

namespace gemmad::gguf {
class GgufFile;
}

namespace gemmad::audio {

struct AudioHparams {
  uint32_t hidden = 0;    // conformer width (1024)
  uint32_t n_ff = 0;      // FFN width (4096)
  uint32_t n_layer = 0;   // 12
  uint32_t n_head = 0;    // 8
  uint32_t head_dim = 0;  // hidden / n_head (128)
  uint32_t sscp_c1 = 0;   // first conv's channels (128)
  uint32_t sscp_c2 = 0;   // second conv's channels (32)
  uint32_t out_dim = 0;   // output projection width (1536)
  uint32_t text_d = 0;    // embedder output = the text model's width
};

// y = clamp(W clamp(x, in_min, in_max), out_min, out_max). Bounds point at the f32 {1}
// tensors in the mapping (nullptr: unbounded on that side).
struct ClippedLinear {
  kernels::WeightView w;
  std::array<const float*, 4> bounds{};  // input_min, input_max, output_min, output_max
};

struct AudioLayerWeights {
  const float* ffn_norm = nullptr;  // [hidden] each
  const float* ffn_post_norm = nullptr;
  const float* ffn_norm_1 = nullptr;
  const float* ffn_post_norm_1 = nullptr;
  const float* attn_pre_norm = nullptr;
  const float* attn_post_norm = nullptr;
  const float* conv_norm = nullptr;                      // before conv_pw1
  const float* norm_conv = nullptr;                      // after the depthwise conv
  const float* ln2 = nullptr;                            // the layer's output norm
  ClippedLinear ffn_up, ffn_down, ffn_up_1, ffn_down_1;  // {hidden, n_ff} / {n_ff, hidden}
  ClippedLinear attn_q, attn_k, attn_v, attn_out;        // {hidden, hidden}
  kernels::WeightView attn_k_rel;                        // {hidden, hidden}, not clipped
  const float* per_dim_scale = nullptr;                  // [head_dim], already softplus'ed
  ClippedLinear conv_pw1;                                // {hidden, 2 hidden}
  ClippedLinear conv_pw2;                                // {hidden, hidden}
  const float* conv_dw = nullptr;                        // [hidden][5]
};

struct AudioWeights {
  AudioHparams hp;
  const float* conv0 = nullptr;  // [c1][1][3 time][3 freq]
  const float* conv0_norm = nullptr;
  const float* conv1 = nullptr;  // [c2][c1][3][3]
  const float* conv1_norm = nullptr;
  kernels::WeightView conv0_w, conv1_w;  // the same kernels as {9 c_in, c_out} f32 matrices
  kernels::WeightView input_projection;  // {32 c2, hidden}
  std::vector<AudioLayerWeights> layers;
  kernels::WeightView out_proj;  // {hidden, out_dim}
  const float* out_bias = nullptr;
  kernels::WeightView embed_proj;  // mm.a.input_projection {out_dim, text_d}
  uint64_t weight_bytes = 0;       // sum over the bound tensors
  std::vector<std::string> tensor_names;

  // Errors name the key or tensor, the value found and what was expected.
  static Result<AudioWeights> bind(const gguf::GgufFile& f, uint32_t text_d);
};

}  // namespace gemmad::audio
