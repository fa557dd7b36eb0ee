// Scalar reference Q4_0 x Q8_0 dot (definition of the integer block sums and of the f32
// accumulation order in dot_q4_0.h).
#include <cmath>
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_q4_0.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {

using quant::blocks::BlockQ4_0;

namespace {

// Exact integer sum of weight block b of `row` times token t's block b.
int32_t block_isum(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b) {
  BlockQ4_0 blk;
  std::memcpy(&blk, row + b * sizeof(BlockQ4_0), sizeof blk);
  int8_t q[kQ8Block];
  act_q8_block(a, t, b, q);
  int32_t isum = 0;
  for (int j = 0; j < kQ8Block / 2; ++j) {
    isum += ((blk.qs[j] & 0xF) - 8) * q[j];
    isum += ((blk.qs[j] >> 4) - 8) * q[j + kQ8Block / 2];
  }
  return isum;
}

// Weight scale times activation scale of block b.
float block_scale(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b) {
  uint16_t dw;
  std::memcpy(&dw, row + b * sizeof(BlockQ4_0), sizeof dw);
  return fp16_to_fp32(dw) * a.d[t * (a.n_in / kQ8Block) + b];
}

// One row times token t in the order of dot_q4_0.h: 8 f32 accumulators (quad parity x block
// position in the quad), each an FMA chain, summed pairwise, then the tail blocks.
float dot_q4_0_ref_row(const uint8_t* row, const ActQ8& a, int64_t t) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  float acc[2][kQuadBlocks] = {};
  for (int64_t g = 0; g < quads; ++g) {
    for (int p = 0; p < kQuadBlocks; ++p) {
      const int64_t b = g * kQuadBlocks + p;
      acc[g % 2][p] = std::fma(static_cast<float>(block_isum(row, a, t, b)),
                               block_scale(row, a, t, b), acc[g % 2][p]);
    }
  }
  float sum = ((acc[0][0] + acc[1][0]) + (acc[0][2] + acc[1][2])) +
              ((acc[0][1] + acc[1][1]) + (acc[0][3] + acc[1][3]));
  if (quads * kQuadBlocks < nb) sum += dot_q4_0_ref_blocks(row, a, t, quads * kQuadBlocks, nb);
  return sum;
}

}  // namespace

float dot_q4_0_ref_blocks(const uint8_t* row, const ActQ8& a, int64_t t, int64_t b0, int64_t b1) {
  float sum = 0.0f;
  for (int64_t b = b0; b < b1; ++b)
    sum += static_cast<float>(block_isum(row, a, t, b)) * block_scale(row, a, t, b);
  return sum;
}

void dot_q4_0_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy) {
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < a.n_tok; ++t) {
      y[t * ldy + r] = dot_q4_0_ref_row(w + r * row_bytes, a, t);
    }
  }
}

}  // namespace gemmad::kernels
