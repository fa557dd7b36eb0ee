// Scalar reference Q6_K x Q8_0 dot. For each 16-element group g of a 256-element weight block,
// isum_g = sum_j (c_j - 32) * q_j (exact); each 32-element activation block b covers groups
// 2b and 2b+1, so y = sum_b (sc_2b * isum_2b + sc_2b+1 * isum_2b+1) * d * da_b in f32.
// The 6-bit codes are laid out as quant::dequantize_row_ref describes (docs/GEMMA4.md §3.6).
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_q6_k.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {

using quant::blocks::BlockQ6_K;
using quant::blocks::kQK_K;

namespace {

// The 256 codes of a block, minus 32, in element order.
void decode_q6_k(const BlockQ6_K& x, int8_t* c) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = x.ql + 64 * half;
    const uint8_t* qh = x.qh + 32 * half;
    int8_t* out = c + 128 * half;
    for (int l = 0; l < 32; ++l) {
      out[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

}  // namespace

void dot_q6_k_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy) {
  const int64_t nb = a.n_in / kQK_K;
  int8_t c[kQK_K];
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    for (int64_t t = 0; t < a.n_tok; ++t) {
      const float* d = a.d + t * (a.n_in / kQ8Block);
      float sum = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ6_K blk;
        std::memcpy(&blk, row + b * sizeof(BlockQ6_K), sizeof blk);
        decode_q6_k(blk, c);
        const float dw = fp16_to_fp32(blk.d);
        for (int ab = 0; ab < kQK_K / kQ8Block; ++ab) {
          int8_t q[kQ8Block];
          act_q8_block(a, t, b * (kQK_K / kQ8Block) + ab, q);
          int32_t isum[2] = {0, 0};
          for (int j = 0; j < kQ8Block; ++j)
            isum[j / 16] += c[ab * kQ8Block + j] * q[j];
          const int32_t scaled = blk.scales[2 * ab] * isum[0] + blk.scales[2 * ab + 1] * isum[1];
          sum += static_cast<float>(scaled) * (dw * d[b * (kQK_K / kQ8Block) + ab]);
        }
      }
      y[t * ldy + r] = sum;
    }
  }
}

}  // namespace gemmad::kernels
