// KV cache element types of attention and the rule that quantizes a K or V row into them
// (docs/KV_CACHE.md; the byte layouts are in kernels/kv_rows.h).
//
// q8 / q4 (dynamic): per block of 32 elements, amax = max |x|, d = amax / qmax (qmax 127 or 7)
// stored as fp16, q = round_half_even(clamp(x * (1 / d'), -qmax, qmax)) with d' the stored
// scale widened back (0 when amax is 0). q8s (static): q = round_half_even(clamp(x / s, -127,
// 127)) with the layer's calibrated scale s. Only the scalar rule exists: a row is quantized
// once, when its position is computed; reading it (every step) is the kernels' job.
#pragma once

#include <cstdint>

namespace gemmad::ops {

enum class KvElem { kF16, kF32, kQ8, kQ4, kQ8Static };

// Bytes of n consecutive elements of a row (n a multiple of 32 for the quantized types).
int64_t kv_row_bytes(KvElem elem, int64_t n);
// Whether the type stores blocks of 32 (rows and head offsets must then be multiples of 32).
inline bool kv_is_blocked(KvElem elem) {
  return elem == KvElem::kQ8 || elem == KvElem::kQ4 || elem == KvElem::kQ8Static;
}

// dst = x[0..n) in `elem`; `scale` is the static scale of kQ8Static (ignored otherwise).
void quantize_kv_row(KvElem elem, float scale, const float* x, uint8_t* dst, int64_t n);

}  // namespace gemmad::ops
