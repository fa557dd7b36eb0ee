// GELU with the tanh approximation (HF gelu_pytorch_tanh) and the gated form Gemma 4's FFN and
// PLE gate use (spec/gemma4.md §1.3 steps 7 and 9). f32 throughout.
#pragma once

#include <cstdint>

namespace gemmad::ops {

// 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).
float gelu_tanh(float z);

// x[i] = gelu_tanh(x[i]).
void gelu_inplace(float* x, int64_t n);

// out[i] = gelu_tanh(gate[i]) * up[i] (ggml's geglu). out may alias gate or up.
void geglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace gemmad::ops
