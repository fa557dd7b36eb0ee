// Q8_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI): codes flipped to unsigned (w ^ 0x80 = w + 128)
// with the -128 zero point folded in through ActQ8::bias, quad loop of quad_dot_avx512.h.
// A quad is 4 blocks (136 bytes); vpermt2b gathers the first / second halves of the 4 blocks
// and the 4 fp16 scales, every load staying inside the quad.
#include "kernels/immintrin_wrap.h"

#include "kernels/dot_q8_0.h"
#include "kernels/quad_dot_avx512.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 34;

struct UnpackQ8_0 {
  static constexpr int64_t kQuadBytes = 4 * kBlockBytes;
  // lo from bytes [0, 128); hi from bytes [8, 136) (the window is shifted by 8).
  __m512i lo_idx = byte_index([](int o) { return kBlockBytes * (o / 16) + 2 + o % 16; });
  __m512i hi_idx = byte_index([](int o) { return kBlockBytes * (o / 16) + 18 + o % 16 - 8; });
  __m512i scale_idx = byte_index([](int o) { return kBlockBytes * ((o / 2) % 16 / 4) + o % 2; });
  __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));

  QuadCodes operator()(const uint8_t* p) const {
    const __m512i z0 = _mm512_loadu_si512(p);
    const __m512i z1 = _mm512_loadu_si512(p + 64);
    const __m512i z2 = _mm512_loadu_si512(p + 8);
    const __m512i z3 = _mm512_loadu_si512(p + 72);  // ends at byte 136, the quad's end
    return {_mm512_xor_si512(_mm512_permutex2var_epi8(z0, lo_idx, z1), flip),
            _mm512_xor_si512(_mm512_permutex2var_epi8(z2, hi_idx, z3), flip),
            _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi8(z0, scale_idx, z1)))};
  }
  float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const {
    return dot_q8_0_ref_blocks(row, a, t, b0, b1);
  }
};

}  // namespace

void dot_q8_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  quad_dot(UnpackQ8_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
