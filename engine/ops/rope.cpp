// RoPE tables and the NEOX rotation.
#include "ops/rope.h"

#include <cmath>

namespace gemmad::ops {

RopeTable::RopeTable(int n_rot, float base, std::span<const float> freq_factors) : n_rot_(n_rot) {
  const int pairs = n_rot / 2;
  std::vector<float> inv(pairs);
  n_active_ = 0;
  for (int j = 0; j < pairs; ++j) {
    // HF: inv_freq = 1 / base^(2j / dim) in f32; proportional RoPE divides by the full dim.
    const double exponent = static_cast<double>(2 * j) / static_cast<double>(n_rot);
    float f = static_cast<float>(1.0 / std::pow(static_cast<double>(base), exponent));
    const float factor = freq_factors.empty() ? 1.0f : freq_factors[j];
    if (factor >= kSkipFactor) {
      f = 0.0f;
    } else {
      f = f / factor;
      n_active_ = j + 1;
    }
    inv[j] = f;
  }
  inv_freq_.assign(inv.begin(), inv.begin() + n_active_);
}

void RopeTable::angles(int32_t pos, float* cos_out, float* sin_out) const {
  const float p = static_cast<float>(pos);
  for (int j = 0; j < n_active_; ++j) {
    const float a = p * inv_freq_[j];
    cos_out[j] = std::cos(a);
    sin_out[j] = std::sin(a);
  }
}

void rope_neox(float* x, int n_heads, int head_dim, int n_rot, int n_active, const float* cos_a,
               const float* sin_a) {
  const int half = n_rot / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* xh = x + static_cast<int64_t>(h) * head_dim;
    for (int j = 0; j < n_active; ++j) {
      const float x0 = xh[j];
      const float x1 = xh[j + half];
      xh[j] = x0 * cos_a[j] - x1 * sin_a[j];
      xh[j + half] = x1 * cos_a[j] + x0 * sin_a[j];
    }
  }
}

}  // namespace gemmad::ops
