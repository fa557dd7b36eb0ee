// GELU with the tanh approximation (HF gelu_pytorch_tanh), the gated form Gemma 4's FFN and
// PLE gate use (docs/GEMMA4.md §1.3 steps 7 and 9), and the tanh of the final logit softcap
// (§1.3 step 8). f32 throughout.
//
// tanh is computed from a polynomial exp on 4-lane GNU vectors, which map onto SIMD registers
// at the baseline ISA (libm's tanhf is scalar and was ~8% of a decode
// step: ~600 K calls per E2B token). Absolute error < 3e-7 against the exact tanh; the same
// inputs give the same outputs whatever the array length or offset.
#pragma once

#include <cstdint>

namespace gemmad::ops {

// 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))).
float gelu_tanh(float z);

// x[i] = tanh(x[i]).
void tanh_inplace(float* x, int64_t n);

// x[i] = cap * tanh(x[i] / cap).
void softcap_inplace(float* x, int64_t n, float cap);

// out[i] = gelu_tanh(gate[i]) * up[i] (ggml's geglu). out may alias gate or up.
void geglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace gemmad::ops
