// Q4_K weights x activations quantised to Q8_0 (act_q8.h): the scalar reference and the SIMD
// kernels, one file per instruction set. Signatures are QDotFn (kernel_table.h).
#pragma once

#include <cstdint>

#include "kernels/act_q8.h"

namespace gemmad::kernels {

void dot_q4_k_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy);
void dot_q4_k_avx2(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                   int64_t ldy);
void dot_q4_k_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy);

}  // namespace gemmad::kernels
