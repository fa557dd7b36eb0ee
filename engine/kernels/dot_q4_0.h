// Q4_0 weights x activations quantised to Q8_0 (act_q8.h): the scalar reference and the SIMD
// kernels, one file per instruction set. Signatures are QDotFn (kernel_table.h).
//
// What "reference" means here: for weight block b (scale dw, nibbles c) and activation block b
// (scale da, codes q), every kernel computes the exact integer block sum
//   isum_b = sum_j (c_j - 8) * q_j            (|isum_b| <= 32 * 8 * 127, exact in int32)
// and y from the f32 terms isum_b * (dw_b * da_b). The reference (dot_q4_0_ref) fixes the f32
// order, which the AVX-512 kernel follows bit for bit (tested): blocks in quads of 4 (act_q8.h);
// block p of quad g goes into accumulator [g % 2][p] by an FMA; then
//   a_p = acc[0][p] + acc[1][p];  y = (a_0 + a_2) + (a_1 + a_3)
// plus the nb % 4 tail blocks summed in order (dot_q4_0_ref_blocks). The AVX2 and NEON kernels
// split isum_b over lanes (the -8 folded in through ActQ8::bias) and accumulate lanes
// separately, so they agree with the reference exactly on the integer sums and differ only by
// f32 rounding of the final sum (the tests' tolerance). All differ from dequantize_row_ref . x
// only by the activation quantisation.
#pragma once

#include <cstdint>

#include "kernels/act_q8.h"

namespace gemmad::kernels {

void dot_q4_0_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy);
void dot_q4_0_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy);
void dot_q4_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy);
void dot_q4_0_neon(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy);

// Reference sum over weight blocks [b0, b1) of one row times token t; the SIMD kernels call
// it for their tail blocks.
float dot_q4_0_ref_blocks(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1);

}  // namespace gemmad::kernels
