// Four-lane float vectors for the ops' hot loops: GNU vector extensions (GCC and Clang), which
// compile to one SSE2 / NEON register at the baseline ISA without -ffast-math and give the
// same result on every instruction set (each lane does exactly the scalar operations).
// 16 bytes, so passing them by value has the same ABI everywhere. Internal to engine/ops.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace gemmad::ops::vec {

typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
typedef uint16_t H4 __attribute__((vector_size(8)));

inline F4 splat(float v) {
  return F4{v, v, v, v};
}
inline F4 load(const float* p) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, F4 v) {
  std::memcpy(p, &v, sizeof v);
}
inline F4 select(I4 mask, F4 a, F4 b) {
  return std::bit_cast<F4>((mask & std::bit_cast<I4>(a)) | (~mask & std::bit_cast<I4>(b)));
}

// Exact f16 -> f32 of four halves: the 15 magnitude bits shifted into a float's
// exponent/mantissa field times 2^112 re-bias the exponent (15 -> 127) and scale half
// subnormals exactly; inf/NaN (exponent 31) are fixed up by a select.
inline F4 f16_to_f32(const uint16_t* p) {
  H4 h;
  std::memcpy(&h, p, sizeof h);
  const I4 x = __builtin_convertvector(h, I4);
  const I4 sign = (x & 0x8000) << 16;
  const I4 mag = x & 0x7fff;
  const F4 scaled = std::bit_cast<F4>(mag << 13) * splat(0x1p112f);
  const I4 special = 0x7f800000 | ((mag & 0x3ff) << 13);
  const I4 is_special = mag >= 0x7c00;  // -1 where true
  const I4 bits = (is_special & special) | (~is_special & std::bit_cast<I4>(scaled));
  return std::bit_cast<F4>(sign | bits);
}

// e^t for t <= 0 (clamped at -87, where e^t < 2e-38): t = n ln2 + r with |r| <= ln2/2, e^r
// by its degree-7 Taylor polynomial (truncation < 6e-9 relative), times 2^n built in the
// exponent bits. Within a few ulp of expf.
inline F4 exp_neg(F4 t) {
  t = select(t < splat(-87.0f), splat(-87.0f), t);
  const F4 round = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const F4 n = (t * splat(1.44269504088896341f) + round) - round;
  // ln 2 in two parts, so that n * hi is exact.
  const F4 r = (t - n * splat(0.693145751953125f)) - n * splat(1.428606765330187e-06f);
  F4 p = splat(1.0f / 5040.0f);
  p = p * r + splat(1.0f / 720.0f);
  p = p * r + splat(1.0f / 120.0f);
  p = p * r + splat(1.0f / 24.0f);
  p = p * r + splat(1.0f / 6.0f);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.0f);
  p = p * r + splat(1.0f);
  const I4 e = __builtin_convertvector(n, I4) + 127;  // n in [-126, 0]: a normal float
  return p * std::bit_cast<F4>(e << 23);
}

}  // namespace gemmad::ops::vec
