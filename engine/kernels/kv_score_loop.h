// The loop shared by the SIMD score kernels (kv_rows.h KvScoreFn): keys four at a time, then
// one at a time, through the same per-key dot (so a key's score never depends on its
// neighbours), then the scale and each head's running maximum. Included by one ISA file each,
// which supplies its dot as dot<K>(q, k, hd, out).
#pragma once

#include <algorithm>
#include <cstdint>

namespace gemmad::kernels::kv_detail {

template <typename Dot>
inline void score_heads(const float* q, int nh, int hd, const float* kb, int m, float scale,
                        float* sc, int64_t stride, float* maxes, Dot dot) {
  for (int h = 0; h < nh; ++h) {
    const float* qh = q + int64_t{h} * hd;
    float* sh = sc + h * stride;
    int b = 0;
    for (; b + 4 <= m; b += 4)
      dot.template operator()<4>(qh, kb + int64_t{b} * hd, hd, sh + b);
    for (; b < m; ++b)
      dot.template operator()<1>(qh, kb + int64_t{b} * hd, hd, sh + b);
    for (b = 0; b < m; ++b) {
      sh[b] *= scale;
      maxes[h] = std::max(maxes[h], sh[b]);
    }
  }
}

}  // namespace gemmad::kernels::kv_detail
