// GELU (tanh approximation), GeGLU and tanh in blocks of 8 lanes.
#include "ops/gelu.h"

#include <bit>
#include <climits>
#include <cstdint>

namespace gemmad::ops {
namespace {

// 4 floats: one SSE / NEON register at the baseline ISA. (GNU vector extensions, supported by
// GCC and Clang; 16 bytes so passing them by value has the same ABI everywhere.)
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
constexpr int kLanes = 4;

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

inline F4 splat(float v) {
  return F4{v, v, v, v};
}
inline F4 select(I4 mask, F4 a, F4 b) {
  return std::bit_cast<F4>((mask & std::bit_cast<I4>(a)) | (~mask & std::bit_cast<I4>(b)));
}

// exp(t) for t <= 0 (clamped at -87): t = n ln2 + r with |r| <= ln2/2, e^r by its degree-7
// Taylor polynomial (truncation error < 6e-9 relative), times 2^n built in the exponent bits.
inline F4 exp_neg(F4 t) {
  t = select(t < splat(-87.0f), splat(-87.0f), t);
  const F4 kRound = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const F4 n = (t * splat(1.44269504088896341f) + kRound) - kRound;
  // ln 2 split in two so that n * hi is exact.
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

// tanh(x) = sign(x) (1 - e^(-2|x|)) / (1 + e^(-2|x|)).
inline F4 tanh4(F4 x) {
  const I4 sign = std::bit_cast<I4>(x) & I4{INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
  const F4 ax = std::bit_cast<F4>(std::bit_cast<I4>(x) ^ sign);
  const F4 y = exp_neg(splat(-2.0f) * ax);
  const F4 t = (splat(1.0f) - y) / (splat(1.0f) + y);
  return std::bit_cast<F4>(std::bit_cast<I4>(t) ^ sign);
}

inline F4 gelu4(F4 z) {
  const F4 u = splat(kSqrt2OverPi) * (z + splat(kCubic) * z * z * z);
  return splat(0.5f) * z * (splat(1.0f) + tanh4(u));
}

inline F4 load(const float* p, int m) {
  F4 v = splat(0.0f);
  for (int l = 0; l < m; ++l)
    v[l] = p[l];
  return v;
}
inline void store(float* p, F4 v, int m) {
  for (int l = 0; l < m; ++l)
    p[l] = v[l];
}

// Applies f to blocks of kLanes; the tail goes through a padded block, so every element sees
// the same instructions wherever it sits.
template <typename F>
void blocks(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    f(i, kLanes);
  if (i < n) f(i, static_cast<int>(n - i));
}

}  // namespace

float gelu_tanh(float z) {
  return gelu4(splat(z))[0];
}

void tanh_inplace(float* x, int64_t n) {
  blocks(n, [&](int64_t i, int m) { store(x + i, tanh4(load(x + i, m)), m); });
}

void softcap_inplace(float* x, int64_t n, float cap) {
  const F4 c = splat(cap), inv = splat(1.0f / cap);
  blocks(n, [&](int64_t i, int m) { store(x + i, c * tanh4(load(x + i, m) * inv), m); });
}

void geglu(const float* gate, const float* up, float* out, int64_t n) {
  blocks(n,
         [&](int64_t i, int m) { store(out + i, gelu4(load(gate + i, m)) * load(up + i, m), m); });
}

}  // namespace gemmad::ops
