// Scalar reference Q2_0 x Q8_0 dot. A 64-element weight block spans two activation blocks:
// isum_h = sum_j (c_j - 1) * q_j over each 32-element half h (exact), then
// y = sum isum_h * dw * da_h in f32.
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_q2_0.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {

using quant::blocks::BlockQ2_0;

float dot_q2_0_ref_blocks(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) {
  const float* d = a.d + t * (a.n_in / kQ8Block);
  float sum = 0.0f;
  for (int64_t b = b0; b < b1; ++b) {
    BlockQ2_0 blk;
    std::memcpy(&blk, row + b * sizeof(BlockQ2_0), sizeof blk);
    const float dw = fp16_to_fp32(blk.d);
    for (int h = 0; h < 2; ++h) {
      int8_t q[kQ8Block];
      act_q8_block(a, t, 2 * b + h, q);
      int32_t isum = 0;
      for (int j = 0; j < kQ8Block; ++j) {
        const int i = h * kQ8Block + j;
        const int c = (blk.qs[i / 4] >> (2 * (i % 4))) & 3;
        isum += (c - 1) * q[j];
      }
      sum += static_cast<float>(isum) * (dw * d[2 * b + h]);
    }
  }
  return sum;
}

void dot_q2_0_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy) {
  const int64_t nb = a.n_in / quant::blocks::kQK2_0;
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < a.n_tok; ++t) {
      y[t * ldy + r] = dot_q2_0_ref_blocks(w + r * row_bytes, a, t, 0, nb);
    }
  }
}

}  // namespace gemmad::kernels
