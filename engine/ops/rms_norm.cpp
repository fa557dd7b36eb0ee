// RMSNorm and the small f32 reductions it shares with attention.
#include "ops/rms_norm.h"

#include <cmath>

#include "ops/vec4.h"

namespace gemmad::ops {

// 8 lanes in two 4-lane vectors: the summation order (and so the result) is fixed and does
// not depend on the instruction set: lane l sums elements l, l + 8, ...; then the lanes in
// order; the tail goes to lane 0.
float sum_of_squares(const float* x, int64_t n) {
  vec::F4 a0 = vec::splat(0.0f), a1 = vec::splat(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const vec::F4 x0 = vec::load(x + i), x1 = vec::load(x + i + 4);
    a0 += x0 * x0;
    a1 += x1 * x1;
  }
  for (; i < n; ++i)
    a0[0] += x[i] * x[i];
  return ((a0[0] + a0[1]) + (a0[2] + a0[3])) + ((a1[0] + a1[1]) + (a1[2] + a1[3]));
}

float dot(const float* a, const float* b, int64_t n) {
  vec::F4 a0 = vec::splat(0.0f), a1 = vec::splat(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 += vec::load(a + i) * vec::load(b + i);
    a1 += vec::load(a + i + 4) * vec::load(b + i + 4);
  }
  for (; i < n; ++i)
    a0[0] += a[i] * b[i];
  return ((a0[0] + a0[1]) + (a0[2] + a0[3])) + ((a1[0] + a1[1]) + (a1[2] + a1[3]));
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float mean = sum_of_squares(x, n) / static_cast<float>(n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  const vec::F4 s = vec::splat(scale);
  int64_t i = 0;
  if (w != nullptr) {
    for (; i + 4 <= n; i += 4)
      vec::store(y + i, vec::load(x + i) * s * vec::load(w + i));
    for (; i < n; ++i)
      y[i] = x[i] * scale * w[i];
  } else {
    for (; i + 4 <= n; i += 4)
      vec::store(y + i, vec::load(x + i) * s);
    for (; i < n; ++i)
      y[i] = x[i] * scale;
  }
}

void rms_norm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r)
    rms_norm(x + r * n, w, y + r * n, n, eps);
}

}  // namespace gemmad::ops
