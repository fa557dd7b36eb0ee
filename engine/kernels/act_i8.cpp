// The int8 activation quantiser of the scaled-code kernels and the output fake-quant
// (act_i8.h). Scalar only: it touches n_in values per token against n_in * n_out weight
// codes, so it is not where the time goes.
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

int8_t round_clamp(float v) {
  // Clamp before converting so the conversion is defined (and NaN maps to a code).
  const float r = std::nearbyint(v);
  return static_cast<int8_t>(std::fmin(std::fmax(r, -128.0f), 127.0f));
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
        amax = std::fmax(amax, std::fabs(xg[i]));
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
  thread_local std::vector<int8_t> tmp;
  tmp.resize(static_cast<size_t>(group));
  for (int64_t g0 = 0; g0 < n; g0 += group) {
    for (int64_t i = 0; i < group; ++i)
      tmp[static_cast<size_t>(act_i8_index(group, phases, i))] = qs[g0 + i];
    std::copy(tmp.begin(), tmp.end(), qs + g0);
  }
}

void fake_quant_i8(float* y, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<float>(round_clamp(y[i] / s)) * s;
}

}  // namespace gemmad::kernels
