// Scalar reference Q4_K x Q8_0 dot. Group g (32 elements) of a 256-element weight block has
// scale d * sc_g and min dmin * m_g and lines up with activation block g, so
//   y = sum_g (d * sc_g * da_g) * isum_g - (dmin * m_g) * ds_g,   isum_g = sum_j c_j * q_j
// with isum_g exact and ds_g = da_g * sum_j q_j (ActQ8::ds).
#include <cstring>

#include "common/fp16.h"
#include "kernels/dot_q4_k.h"
#include "quant/block_layouts.h"

namespace gemmad::kernels {

using quant::blocks::BlockQ4_K;
using quant::blocks::kQK_K;

void dot_q4_k_ref(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                  int64_t ldy) {
  const int64_t nb = a.n_in / kQK_K;
  constexpr int kGroups = kQK_K / kQ8Block;
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    for (int64_t t = 0; t < a.n_tok; ++t) {
      const float* d = a.d + t * (a.n_in / kQ8Block);
      const float* ds = a.ds + t * (a.n_in / kQ8Block);
      float sum = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        BlockQ4_K blk;
        std::memcpy(&blk, row + b * sizeof(BlockQ4_K), sizeof blk);
        const float dw = fp16_to_fp32(blk.d);
        const float dmin = fp16_to_fp32(blk.dmin);
        for (int g = 0; g < kGroups; ++g) {
          uint8_t sc = 0;
          uint8_t m = 0;
          quant::blocks::get_scale_min_k4(g, blk.scales, &sc, &m);
          // Group g: nibbles of qs[32 * (g / 2) ..], low for even g, high for odd g.
          const uint8_t* c = blk.qs + 32 * (g / 2);
          const int shift = 4 * (g % 2);
          int8_t q[kQ8Block];
          act_q8_block(a, t, b * kGroups + g, q);
          int32_t isum = 0;
          for (int j = 0; j < kQ8Block; ++j)
            isum += ((c[j] >> shift) & 0xF) * q[j];
          const int64_t ab = b * kGroups + g;
          sum += (dw * static_cast<float>(sc) * d[ab]) * static_cast<float>(isum);
          sum -= (dmin * static_cast<float>(m)) * ds[ab];
        }
      }
      y[t * ldy + r] = sum;
    }
  }
}

}  // namespace gemmad::kernels
