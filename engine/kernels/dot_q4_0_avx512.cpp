// Q4_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI): unsigned nibbles x signed codes with the -8
// zero point folded in through ActQ8::bias (dot_q4_0.h), quad loop of quad_dot_avx512.h.
//
// A quad is 4 blocks (72 bytes). One vpermt2b gathers the 4 x 16 code bytes, whose low / high
// nibbles are elements 0..15 / 16..31 of each block, i.e. exactly the quad's first / second
// halves in ActQ8::qs; one vpermb spreads the 4 fp16 scales over the 16 lanes.
#include "kernels/immintrin_wrap.h"

#include "kernels/dot_q4_0.h"
#include "kernels/quad_dot_avx512.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;

struct UnpackQ4_0 {
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

void dot_q4_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  quad_dot(UnpackQ4_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
