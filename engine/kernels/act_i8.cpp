// The int8 activation quantiser of the scaled-code kernels and the output fake-quant
// (act_i8.h). Scalar, but with no library calls or divisions by a run-time phase count in the
// loops: it runs on the calling thread before the rows are split, once per matmul and token.
#include "kernels/act_i8.h"

#include <algorithm>
#include <cmath>

namespace gemmad::kernels {

void ActI8Buffer::reserve(int64_t n_in, int64_t n_tok, int64_t group) {
  n_in_ = n_in;
  n_tok_ = n_tok;
  group_ = group;
  n_groups_ = n_in / group;
  qs_.resize(static_cast<size_t>(n_in * n_tok));
  d_.resize(static_cast<size_t>(n_groups_ * n_tok));
  sum_.resize(static_cast<size_t>(n_groups_ * n_tok));
}

namespace {

// clamp(round_half_even(v), -128, 127), NaN giving -128 (the conversion stays defined).
// Clamping first is the same (rounding is monotone and the bounds are integers); then for
// |c| <= 128 adding and taking off 1.5 * 2^23 rounds to an integer, half to even, in the
// default rounding mode, as nearbyint does, without a libm call.
int8_t round_clamp(float v) {
  float c = v > -128.0f ? v : -128.0f;
  c = c < 127.0f ? c : 127.0f;
  constexpr float kMagic = 12582912.0f;               // 1.5 * 2^23: ulp 1 over [2^23, 2^24)
  return static_cast<int8_t>((c + kMagic) - kMagic);  // not folded: IEEE, no -ffast-math
}

}  // namespace

void quantize_act_i8(const float* x, int64_t n, int64_t group, float static_scale, int8_t* qs,
                     float* d, int32_t* sum) {
  const bool fixed = static_scale > 0.0f && std::isfinite(static_scale);
  for (int64_t g = 0; g < n / group; ++g) {
    const float* xg = x + g * group;
    int8_t* qg = qs + g * group;
    float s = static_scale;
    if (!fixed) {
      float amax = 0.0f;
      for (int64_t i = 0; i < group; ++i)
        amax = std::fabs(xg[i]) > amax ? std::fabs(xg[i]) : amax;  // fmax: NaN ignored
      s = amax / 127.0f;
    }
    d[g] = fixed || s > 0.0f ? s : 0.0f;
    int32_t total = 0;
    for (int64_t i = 0; i < group; ++i) {
      qg[i] = d[g] > 0.0f ? round_clamp(xg[i] / s) : int8_t{0};
      total += qg[i];
    }
    sum[g] = total;
  }
}

void act_i8_to_phases(int8_t* qs, int64_t n, int64_t group, int phases) {
  if (phases <= 1) return;
  // Plane p of a group holds its elements p, p + P, p + 2P, ... (act_i8_index).
  thread_local std::vector<int8_t> tmp;
  tmp.resize(static_cast<size_t>(group));
  const int64_t plane = group / phases;
  for (int64_t g0 = 0; g0 < n; g0 += group) {
    for (int p = 0; p < phases; ++p) {
      for (int64_t j = 0; j < plane; ++j)
        tmp[static_cast<size_t>(p * plane + j)] = qs[g0 + j * phases + p];
    }
    std::copy(tmp.begin(), tmp.end(), qs + g0);
  }
}

void fake_quant_i8(float* y, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<float>(round_clamp(y[i] / s)) * s;
}

}  // namespace gemmad::kernels
