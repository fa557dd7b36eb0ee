// Q4_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI): unsigned nibbles x signed codes with the -8
// zero point folded in through ActQ8::bias (dot_q4_0.h), quad loop of quad_dot_avx512.h over
// the unpack of unpack_q4_0_avx512.h.
#include "kernels/immintrin_wrap.h"

#include "kernels/dot_q4_0.h"
#include "kernels/quad_dot_avx512.h"
#include "kernels/unpack_q4_0_avx512.h"

namespace gemmad::kernels {

void dot_q4_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  quad_dot(UnpackQ4_0{}, w, row_bytes, n_rows, a, y, ldy);
}

}  // namespace gemmad::kernels
