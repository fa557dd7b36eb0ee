// The function table of one kernel set: an activation quantiser, a dot kernel per weight
// type and the KV-row widening of attention. Chosen once (cpu_features.h); matmul() only calls
// through it.
//
// Every dot kernel computes, for the n_rows weight rows starting at w (row r at
// w + r * row_bytes, ggml block layout, any alignment) and every token t < n_tok:
//   y[t * ldy + r] = sum_i W[r][i] * X[t][i]
// Integer kernels (QDotFn) take the activations quantised by the table's quantiser with the
// entry's act_offset (act_q8.h); float kernels (FDotFn) take X as f32 [n_tok][n_in].
// Each token's result is computed by the same sequence of operations whatever n_tok and
// n_rows are, so a token's output does not depend on what it is batched with.
#pragma once

#include <cstdint>

#include "kernels/act_q8.h"
#include "kernels/cpu_features.h"
#include "kernels/dot_gq.h"
#include "kernels/kv_rows.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {

using QDotFn = void (*)(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a,
                        float* y, int64_t ldy);
using FDotFn = void (*)(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x,
                        int64_t n_in, int64_t n_tok, float* y, int64_t ldy);

struct TypeKernel {
  QDotFn qdot = nullptr;  // exactly one of qdot / fdot is set
  FDotFn fdot = nullptr;
  int32_t act_offset = 0;  // zero point folded into ActQ8::bias for qdot
  bool act_split = false;  // ActQ8::bias / bias2 split by half (act_q8.h)
};

// A scaled-code type (quant/scaled_codes.h) and its dot kernel; these multiply int8
// activations of act_i8.h instead of ActQ8. Adding such a type is one traits entry and one
// entry here per set.
struct ScaledKernel {
  quant::GgmlType type;
  GDotFn dot = nullptr;
};
inline constexpr int kScaledTypes = 3;

struct KernelTable {
  KernelSet set = KernelSet::kScalar;
  QuantizeActFn quantize_act = nullptr;
  TypeKernel f32, f16, bf16, q4_0, q8_0, q2_0, q4_k, q6_k;
  KvKernels kv;  // KV cache rows for attention
  ScaledKernel scaled[kScaledTypes];
};

// The table of a usable set (kernel_set_usable()).
const KernelTable& kernel_table(KernelSet set);

// The entry for `type`, or nullptr if the set has no kernel for it (matmul then dequantises
// rows with quant::dequantize_row_ref).
const TypeKernel* find_kernel(const KernelTable& table, quant::GgmlType type);

// The dot kernel of a scaled-code type, or nullptr.
GDotFn find_scaled_kernel(const KernelTable& table, quant::GgmlType type);

}  // namespace gemmad::kernels
