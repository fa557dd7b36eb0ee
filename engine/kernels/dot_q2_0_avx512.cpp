// Q2_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI): 2-bit codes with the -1 zero point folded in
// through ActQ8::bias, quad loop of quad_dot_avx512.h. A quad (4 activation blocks) is 2
// weight blocks (36 bytes): vpermb puts under each output byte the code byte holding its
// element, vpmultishiftqb moves the element's 2 bits down, and a mask keeps them.
#include "kernels/immintrin_wrap.h"

#include "kernels/dot_q2_0.h"
#include "kernels/quad_dot_avx512.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;

// Byte of the quad holding element e (0..31) of activation block j (0..3).
constexpr int code_byte(int j, int e) {
  return kBlockBytes * (j / 2) + 2 + (32 * (j % 2) + e) / 4;
}

struct UnpackQ2_0 {
  static constexpr int64_t kQuadBytes = 2 * kBlockBytes;
  __m512i lo_idx = byte_index([](int o) { return code_byte(o / 16, o % 16); });
  __m512i hi_idx = byte_index([](int o) { return code_byte(o / 16, 16 + o % 16); });
  // Within each qword, output byte o takes bits 2 * (o % 4) .. of its own source byte.
  __m512i shift = byte_index([](int o) { return 8 * (o % 8) + 2 * (o % 4); });
  __m512i scale_idx = byte_index([](int o) { return kBlockBytes * ((o / 2) % 16 / 8) + o % 2; });
  __m512i mask = _mm512_set1_epi8(3);

  QuadCodes operator()(const uint8_t* p) const {
    const __m512i z = _mm512_maskz_loadu_epi8((1ull << kQuadBytes) - 1, p);
    const __m512i lo = _mm512_multishift_epi64_epi8(shift, _mm512_permutexvar_epi8(lo_idx, z));
    const __m512i hi = _mm512_multishift_epi64_epi8(shift, _mm512_permutexvar_epi8(hi_idx, z));
    return {_mm512_and_si512(lo, mask), _mm512_and_si512(hi, mask),
            _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(scale_idx, z)))};
  }
  // Activation blocks come in pairs per weight block, so b0 and b1 are even.
  float tail(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) const {
    return dot_q2_0_ref_blocks(row, a, t, b0 / 2, b1 / 2);
  }
};

}  // namespace

void dot_q2_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  quad_dot(UnpackQ2_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
