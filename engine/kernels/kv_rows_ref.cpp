// Scalar reference widening of KV cache rows (kv_rows.h): the definition the SIMD sets match.
#include <cstring>

#include "common/fp16.h"
#include "kernels/kv_rows.h"

namespace gemmad::kernels {

void widen_kv_f16_ref(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof h);
    dst[i] = fp16_to_fp32(h);
  }
}

void widen_kv_q8_ref(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ8BlockBytes;
    uint16_t h;
    std::memcpy(&h, blk, sizeof h);
    const float d = fp16_to_fp32(h);
    for (int i = 0; i < kKvBlock; ++i)
      dst[b * kKvBlock + i] = d * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
  }
}

void widen_kv_q4_ref(const uint8_t* src, int64_t n, float, float* dst) {
  for (int64_t b = 0; b < n / kKvBlock; ++b) {
    const uint8_t* blk = src + b * kKvQ4BlockBytes;
    uint16_t h;
    std::memcpy(&h, blk, sizeof h);
    const float d = fp16_to_fp32(h);
    for (int j = 0; j < kKvBlock / 2; ++j) {
      dst[b * kKvBlock + j] = d * static_cast<float>((blk[2 + j] & 0x0f) - 8);
      dst[b * kKvBlock + j + 16] = d * static_cast<float>((blk[2 + j] >> 4) - 8);
    }
  }
}

void widen_kv_q8s_ref(const uint8_t* src, int64_t n, float scale, float* dst) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = scale * static_cast<float>(static_cast<int8_t>(src[i]));
}

}  // namespace gemmad::kernels
