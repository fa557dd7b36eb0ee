// The audio tower's operations on plain f32 arrays (docs/ENCODERS.md §3.2, §3.3):
// clipped linears, the subsampling convolutions, LayerNorm over channels, GLU, the causal
// depthwise conv and chunked local attention with relative positions. Big products go
// through kernels/blocked_gemm.h (sgemm from 32 rows up, matmul.h below); the rest are plain
// loops, parallel over time steps where it pays.
#pragma once

#include <cstdint>
#include <vector>

#include "audio/audio_weights.h"
#include "kernels/matmul.h"

namespace gemmad::kernels {
class ThreadPool;
}

namespace gemmad::audio {

// Fixed by the architecture (not in the file; §3.3).
inline constexpr uint32_t kAttnWindow = 12;  // query t sees keys t-11 .. t
inline constexpr float kAttnSoftcap = 50.0f;
inline constexpr uint32_t kDwKernel = 5;  // causal depthwise conv, left pad 4
inline constexpr float kNormEps = 1e-6f;

// y[n][n_out] = clamp(W clamp(x, in), out). `scratch` holds the clamped input (resized).
void clipped_matmul(const ClippedLinear& c, const float* x, int64_t n, float* y,
                    std::vector<float>& scratch, kernels::ThreadPool& pool);

// Conv2d 3x3, stride 2, zero padding 1, no bias, as im2col + matmul with `w` ({9 c_in, c_out}
// f32, element (ic, kt, kf) at ic*9 + kt*3 + kf). in [t_in][f_in][c_in] (channel fastest),
// out [ceil(t_in/2)][ceil(f_in/2)][c_out].
void conv2d_3x3_s2(const float* in, uint32_t t_in, uint32_t f_in, uint32_t c_in,
                   const kernels::WeightView& w, float* out, kernels::ThreadPool& pool);

// Per row of n: (x - mean) * (var + eps)^-1/2 * w, then ReLU (the SSCP norm + activation).
void layer_norm_relu_rows(float* x, const float* w, int64_t n_rows, int64_t n, float eps);

void silu_inplace(float* x, int64_t n);

// out[t][c] = u[t][c] * sigmoid(u[t][c + ch]) for u [n][2 ch].
void glu(const float* u, int64_t n, int64_t ch, float* out);

// y[t][c] = sum_j w[c][j] u[t-4+j][c] (u before 0 is zero). u, y [n][ch]; w [ch][5].
void depthwise_causal_conv(const float* u, const float* w, int64_t n, int64_t ch, float* y);

// R[delta][hidden] = k_rel · S(delta) for delta = 0 .. kAttnWindow-1, S the sinusoid
// [sin(delta g_i)] ++ [cos(delta g_i)], g_i = exp(-i ln(10000) / (hidden/2 - 1)).
std::vector<float> relative_position_rows(const kernels::WeightView& k_rel, uint32_t hidden,
                                          kernels::ThreadPool& pool);

// o[t] = sum_s softmax_s(cap(q~_t . (k~_s + R[t-s]))) v_s over s in [t-11, t], per head.
// q, k, v, o [n][n_head * head_dim] head-major; q~ = q * head_dim^-1/2 / ln 2 * pds (per dim),
// k~ = k * ln(1 + e) / ln 2. q and k are scaled in place.
void local_attention(float* q, float* k, const float* v, const float* rel, const float* pds,
                     int64_t n, uint32_t n_head, uint32_t head_dim, float* o,
                     kernels::ThreadPool& pool);

}  // namespace gemmad::audio
