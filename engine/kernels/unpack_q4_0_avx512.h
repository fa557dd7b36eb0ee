// The AVX-512 unpack of one Q4_0 quad (4 blocks, 72 bytes) for quad_dot_avx512.h: one vpermt2b
// gathers the 4 x 16 code bytes, whose low / high nibbles are elements 0..15 / 16..31 of each
// block, i.e. exactly the quad's first / second halves in ActQ8::qs; one vpermb spreads the 4
// fp16 scales over the 16 lanes. Shared by dot_q4_0_avx512.cpp and bench/q4_0_ablation.
// Include only from files compiled with the AVX-512 flags: internal linkage only.
#pragma once

#include "kernels/immintrin_wrap.h"

#include "kernels/dot_q4_0.h"
#include "kernels/quad_dot_avx512.h"

namespace gemmad::kernels {
namespace {

struct UnpackQ4_0 {
  static constexpr int kBlockBytes = 18;
  static constexpr int64_t kQuadBytes = 4 * kBlockBytes;
  __m512i code_idx = byte_index([](int o) { return kBlockBytes * (o / 16) + 2 + o % 16; });
  __m512i scale_idx = byte_index([](int o) { return kBlockBytes * ((o / 2) % 16 / 4) + o % 2; });
  __m512i nibble = _mm512_set1_epi8(0x0F);

  QuadCodes operator()(const uint8_t* p) const {
    const __m512i z0 = _mm512_loadu_si512(p);
    const __m512i z1 = _mm512_maskz_loadu_epi8(0xFF, p + 64);  // bytes 64..71, no overread
    const __m512i codes = _mm512_permutex2var_epi8(z0, code_idx, z1);
    return {_mm512_and_si512(codes, nibble), _mm512_and_si512(_mm512_srli_epi16(codes, 4), nibble),
            _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(scale_idx, z0)))};
  }
  float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const {
    return dot_q4_0_ref_blocks(row, a, t, b0, b1);
  }
};

}  // namespace
}  // namespace gemmad::kernels
