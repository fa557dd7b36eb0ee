// Scalar reference Q4_0 x Q8_0 dot (definition of the integer block sums in dot_q4_0.h).
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_q4_0.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {

using quant::blocks::BlockQ4_0;

float dot_q4_0_ref_blocks(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) {
  const float* d = a.d + t * (a.n_in / kQ8Block);
  float sum = 0.0f;
  for (int64_t b = b0; b < b1; ++b) {
    BlockQ4_0 blk;
    std::memcpy(&blk, row + b * sizeof(BlockQ4_0), sizeof blk);
    int8_t q[kQ8Block];
    act_q8_block(a, t, b, q);
    int32_t isum = 0;
    for (int j = 0; j < kQ8Block / 2; ++j) {
      isum += ((blk.qs[j] & 0xF) - 8) * q[j];
      isum += ((blk.qs[j] >> 4) - 8) * q[j + kQ8Block / 2];
    }
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * d[b]);
  }
  return sum;
}

void dot_q4_0_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < a.n_tok; ++t) {
      y[t * ldy + r] = dot_q4_0_ref_blocks(w + r * row_bytes, a, t, 0, a.n_in / kQ8Block);
    }
  }
}

}  // namespace gemmad::kernels
