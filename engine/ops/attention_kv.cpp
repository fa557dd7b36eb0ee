// The KV quantization rule (attention_kv.h): f16, f32, q8, q4 and static q8 rows.
#include "ops/attention_kv.h"

#include <cmath>
#include <cstring>

#include "common/fp16.h"
#include "kernels/kv_rows.h"

namespace gemmad::ops {
namespace {

using kernels::kKvBlock;

int8_t round_code(float v, float qmax) {
  // nearbyint rounds half to even in the default rounding mode; the clamp keeps NaN defined.
  return static_cast<int8_t>(std::nearbyint(std::fmin(std::fmax(v, -qmax), qmax)));
}

// Scale of one block: d = amax / qmax kept as fp16, and the inverse of the stored value.
void block_scale(const float* x, float qmax, uint8_t* out, float* inv) {
  float amax = 0.0f;
  for (int i = 0; i < kKvBlock; ++i)
    amax = std::fmax(amax, std::fabs(x[i]));
  const uint16_t h = fp32_to_fp16(amax / qmax);
  std::memcpy(out, &h, sizeof h);
  const float d = fp16_to_fp32(h);
  *inv = d > 0.0f ? 1.0f / d : 0.0f;
}

}  // namespace

int64_t kv_row_bytes(KvElem elem, int64_t n) {
  switch (elem) {
    case KvElem::kF16:
      return 2 * n;
    case KvElem::kF32:
      return 4 * n;
    case KvElem::kQ8:
      return n / kKvBlock * kernels::kKvQ8BlockBytes;
    case KvElem::kQ4:
      return n / kKvBlock * kernels::kKvQ4BlockBytes;
    case KvElem::kQ8Static:
      return n;
  }
  return 0;
}

void quantize_kv_row(KvElem elem, float scale, const float* x, uint8_t* dst, int64_t n) {
  switch (elem) {
    case KvElem::kF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(x[i]);
        std::memcpy(dst + 2 * i, &h, sizeof h);
      }
      return;
    case KvElem::kF32:
      std::memcpy(dst, x, sizeof(float) * static_cast<size_t>(n));
      return;
    case KvElem::kQ8:
      for (int64_t b = 0; b < n / kKvBlock; ++b) {
        const float* xb = x + b * kKvBlock;
        uint8_t* blk = dst + b * kernels::kKvQ8BlockBytes;
        float inv = 0.0f;
        block_scale(xb, 127.0f, blk, &inv);
        for (int i = 0; i < kKvBlock; ++i)
          blk[2 + i] = static_cast<uint8_t>(round_code(xb[i] * inv, 127.0f));
      }
      return;
    case KvElem::kQ4:
      for (int64_t b = 0; b < n / kKvBlock; ++b) {
        const float* xb = x + b * kKvBlock;
        uint8_t* blk = dst + b * kernels::kKvQ4BlockBytes;
        float inv = 0.0f;
        block_scale(xb, 7.0f, blk, &inv);
        for (int j = 0; j < kKvBlock / 2; ++j) {
          const int lo = round_code(xb[j] * inv, 7.0f) + 8;
          const int hi = round_code(xb[j + 16] * inv, 7.0f) + 8;
          blk[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
      }
      return;
    case KvElem::kQ8Static:
      for (int64_t i = 0; i < n; ++i)
        dst[i] = static_cast<uint8_t>(round_code(x[i] / scale, 127.0f));
      return;
  }
}

}  // namespace gemmad::ops
