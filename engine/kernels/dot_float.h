// F32, F16 and BF16 weights x f32 activations: the scalar reference and the SIMD kernels, one
// file per instruction set. Signatures are FDotFn (kernel_table.h).
#pragma once

#include <cstdint>

namespace gemmad::kernels {

#define GEMMAD_DECLARE_FDOT(name)                                                               \
  void name(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* x, int64_t n_in, \
            int64_t n_tok, float* y, int64_t ldy)

GEMMAD_DECLARE_FDOT(dot_f32_ref);
GEMMAD_DECLARE_FDOT(dot_f16_ref);
GEMMAD_DECLARE_FDOT(dot_bf16_ref);
GEMMAD_DECLARE_FDOT(dot_f32_avx2);
GEMMAD_DECLARE_FDOT(dot_f16_avx2);
GEMMAD_DECLARE_FDOT(dot_bf16_avx2);
GEMMAD_DECLARE_FDOT(dot_f32_avx512);
GEMMAD_DECLARE_FDOT(dot_f16_avx512);
GEMMAD_DECLARE_FDOT(dot_bf16_avx512);
GEMMAD_DECLARE_FDOT(dot_f32_neon);
GEMMAD_DECLARE_FDOT(dot_f16_neon);
GEMMAD_DECLARE_FDOT(dot_bf16_neon);

#undef GEMMAD_DECLARE_FDOT

}  // namespace gemmad::kernels
