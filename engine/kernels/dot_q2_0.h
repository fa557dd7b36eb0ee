// Q2_0 weights x activations quantised to Q8_0 (act_q8.h): the scalar reference and the SIMD
// kernels, one file per instruction set. Signatures are QDotFn (kernel_table.h).
#pragma once

#include <cstdint>

#include "kernels/act_q8.h"

namespace gemmad::kernels {

void dot_q2_0_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy);
void dot_q2_0_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy);
void dot_q2_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy);

// Reference sum over weight blocks [b0, b1) (64 values each) of one row times token t; the
// SIMD kernels call it for their tail blocks.
float dot_q2_0_ref_blocks(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1);

}  // namespace gemmad::kernels
