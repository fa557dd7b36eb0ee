// GELU (tanh approximation), GeGLU and tanh on 4-lane vectors.
#include "ops/gelu.h"

#include <bit>
#include <climits>
#include <cstdint>

#include "ops/vec4.h"

namespace gemmad::ops {
namespace {

using vec::exp_neg;
using vec::F4;
using vec::I4;
using vec::splat;
constexpr int kLanes = 4;

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

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
