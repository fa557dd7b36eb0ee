// The Gemma 4 text tensor table (docs/GEMMA4.md §3.3, §3.4): every tensor the forward pass
// uses, with its expected shape and whether it is required, optional, or ignored on KV-shared
// layers; bound as views into the GGUF mapping (never copied).
//
// Binding rules: a required tensor that is missing, has the wrong shape, or has a type the
// engine cannot compute with is an error naming the tensor. Tensors the table does not list
// (vision `v.*`, audio `a.*`, projector `mm.*`, `*.input_scale`, anything unknown) are
// ignored, as are attn_k / attn_v / attn_k_norm on KV-shared layers (§1.6, trap 10).
// `X.scale` ({1}, f32) companions multiply X's matmul output (§3.4). Scaled-code weights
// need `X.weight_scale` and may have `X.input_act_scale` / `X.output_act_scale` (FORMATS.md).
// Norm vectors are used in place when f32; other float types are widened into a small owned
// copy (at most a few hundred KB for E4B), the only weights this object owns.
//
// Thread safety: immutable after bind(); shared read-only by every sequence and thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "kernels/matmul.h"
#include "models/gemma4_config.h"

namespace gemmad::gguf {
class GgufFile;
}

namespace gemmad::engine {

// A matrix and the scalar its output is multiplied by (1.0 without a `.scale` companion).
// Scaled-code matrices (gq2/gq4/gq8, docs/FORMATS.md) also carry their `.weight_scale`
// companion in w, a static input scale in w.in_scale and an output scale here (0 = none):
// the output is fake-quantised to int8 with it (kernels/act_i8.h).
struct Linear {
  kernels::WeightView w;  // w.data == nullptr: absent (optional tensor)
  float scale = 1.0f;
  float out_scale = 0.0f;
  bool present() const { return w.data != nullptr; }
};

struct Gemma4LayerWeights {
  const float* attn_norm = nullptr;            // [d]
  Linear attn_q;                               // {d, H*hd}
  const float* attn_q_norm = nullptr;          // [hd]
  Linear attn_k;                               // {d, Hkv*hd}; KV-owning layers only
  Linear attn_v;                               // {d, Hkv*hd}; optional (absent: V = raw K)
  const float* attn_k_norm = nullptr;          // [hd]; KV-owning layers only
  Linear attn_output;                          // {H*hd, d}
  const float* post_attention_norm = nullptr;  // [d]
  const float* ffn_norm = nullptr;             // [d]
  Linear ffn_gate, ffn_up;                     // {d, ff}
  Linear ffn_down;                             // {ff, d}
  const float* post_ffw_norm = nullptr;        // [d]
  Linear inp_gate;                             // {d, p}; PLE models only
  Linear proj;                                 // {p, d}
  const float* post_norm = nullptr;            // [d]
  float layer_output_scale = 1.0f;             // optional {1}
};

class Gemma4Weights {
 public:
  // Binds every tensor of the table for `config` in `file`; `file` must outlive the result.
  static Result<std::unique_ptr<Gemma4Weights>> bind(const gguf::GgufFile& file,
                                                     const Gemma4Config& config);

  kernels::WeightView token_embd;              // {d, V}: embedding rows and, tied, the LM head
  kernels::WeightView per_layer_token_embd;    // {L*p, V}; PLE models only
  Linear per_layer_model_proj;                 // {d, L*p}
  const float* per_layer_proj_norm = nullptr;  // [p]
  const float* output_norm = nullptr;          // [d]
  Linear output;  // the LM head: `output.weight` if present, else token_embd (tied)
  std::vector<Gemma4LayerWeights> layers;

  // Bytes of weights one decoded token reads (docs/GEMMA4.md §4.1): every layer matrix, the PLE
  // model projection, the LM head, one token_embd row, one PLE row and the norms.
  uint64_t bytes_per_decoded_token() const { return bytes_per_token_; }

 private:
  Gemma4Weights() = default;
  std::vector<std::unique_ptr<float[]>> owned_norms_;
  uint64_t bytes_per_token_ = 0;
  friend class Gemma4WeightBinder;
};

}  // namespace gemmad::engine
