// RMSNorm and the small f32 reductions it shares with attention.
#include "ops/rms_norm.h"

#include <cmath>

namespace gemmad::ops {

// 8 lanes: the compiler maps them onto SIMD registers without -ffast-math, and the summation
// order (and so the result) does not depend on the instruction set.
constexpr int kLanes = 8;

float sum_of_squares(const float* x, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l)
      acc[l] += x[i + l] * x[i + l];
  }
  for (; i < n; ++i)
    acc[0] += x[i] * x[i];
  float s = 0.0f;
  for (int l = 0; l < kLanes; ++l)
    s += acc[l];
  return s;
}

float dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l)
      acc[l] += a[i + l] * b[i + l];
  }
  for (; i < n; ++i)
    acc[0] += a[i] * b[i];
  float s = 0.0f;
  for (int l = 0; l < kLanes; ++l)
    s += acc[l];
  return s;
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float mean = sum_of_squares(x, n) / static_cast<float>(n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i)
      y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i)
      y[i] = x[i] * scale;
  }
}

void rms_norm_rows(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r)
    rms_norm(x + r * n, w, y + r * n, n, eps);
}

}  // namespace gemmad::ops
