// y = W x for the weight types found in Gemma 4 files, batched over tokens.
//
// W is a view of a GGUF tensor {n_in, n_out} (ggml order: each of the n_out rows holds n_in
// contiguous elements in `type`'s block layout). X is [n_tok][n_in] f32 row-major and Y is
// [n_tok][n_out]. The kernel set (scalar reference, AVX2, AVX-512, NEON) is picked once at
// start-up from the CPU's features (cpu_features.h); every fast path is tested against the
// scalar reference. Numerics: Q4_0, Q8_0, Q2_0, Q4_K and Q6_K weights multiply activations
// quantised to Q8_0 blocks per token (ggml's quantize_row_q8_0 semantics, act_q8.h) with exact
// integer block sums; scaled-code weights (gq2/gq4/gq8) multiply int8 activations quantised per
// weight group with the layer's static scale or dynamically (act_i8.h); F32, F16 and BF16 weights
// multiply the f32 activations; other computable types are dequantised row by row
// (quant::dequantize_row_ref). Accumulation in f32. A token's output does not depend on the other
// tokens of the batch nor on the thread count.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {

class ThreadPool;

struct WeightView {
  quant::GgmlType type = quant::GgmlType::kF32;
  int64_t n_in = 0;   // ne[0]
  int64_t n_out = 0;  // ne[1]
  const uint8_t* data = nullptr;
  uint64_t row_bytes = 0;
  // Scaled-code types only (quant/scaled_codes.h): scales [n_out][n_in / group], and the
  // static input activation scale (act_i8.h; 0 = quantise each token dynamically).
  const float* scales = nullptr;
  int64_t group = 0;
  float in_scale = 0.0f;
};

// dst[0..n_in) = the values of row `row` of w (any computable or scaled-code type).
void dequantize_weight_row(const WeightView& w, int64_t row, float* dst);

// Y[t][o] = sum_i W[o][i] * X[t][i] for t < n_tok, o < n_out. Multi-threaded over output rows;
// y must not overlap x. w.type must be computable (quant::traits) and w.n_in a multiple of its
// block size (the GGUF loader checks both). Calls from several threads at once are safe if they
// use different pools (per-thread activation buffers).
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool);

// Same with an explicit kernel set, which must be usable (kernel_set_usable): tests and
// benchmarks compare the sets.
void matmul_with(KernelSet set, const WeightView& w, const float* x, int64_t n_tok, float* y,
                 ThreadPool& pool);

// Same, scalar reference kernels only (same numerics), single thread: the reference the fast
// paths are tested against.
void matmul_ref(const WeightView& w, const float* x, int64_t n_tok, float* y);

// Name of the kernel set in use ("avx512", "avx2", "neon", "scalar"), for status/bench.
const char* kernel_set_name();

}  // namespace gemmad::kernels
