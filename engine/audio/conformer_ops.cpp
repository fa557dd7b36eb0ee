// Audio tower operations on plain arrays (docs/ENCODERS.md §3.2, §3.3).
#include "audio/conformer_ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "kernels/blocked_gemm.h"
#include "kernels/thread_pool.h"

namespace gemmad::audio {
namespace {

// Output time steps of conv2d_3x3_s2 per im2col block: bounds the im2col buffer to
// 16 * 64 * 1152 floats (4.7 MB) at the real shape, whatever the audio length.
constexpr uint32_t kConvBlockSteps = 16;

void clamp_to(float* x, int64_t n, const float* lo, const float* hi) {
  const float l = lo ? *lo : -INFINITY;
  const float h = hi ? *hi : INFINITY;
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::min(std::max(x[i], l), h);
}

float sigmoid(float z) {
  return 1.0f / (1.0f + std::exp(-z));
}

}  // namespace

void clipped_matmul(const ClippedLinear& c, const float* x, int64_t n, float* y,
                    std::vector<float>& scratch, kernels::ThreadPool& pool) {
  const int64_t n_in_total = n * c.w.n_in;
  const float* in = x;
  if (c.bounds[0] || c.bounds[1]) {
    scratch.assign(x, x + n_in_total);
    clamp_to(scratch.data(), n_in_total, c.bounds[0], c.bounds[1]);
    in = scratch.data();
  }
  kernels::blocked_matmul(c.w, in, n, y, pool);
  if (c.bounds[2] || c.bounds[3]) clamp_to(y, n * c.w.n_out, c.bounds[2], c.bounds[3]);
}

void conv2d_3x3_s2(const float* in, uint32_t t_in, uint32_t f_in, uint32_t c_in,
                   const kernels::WeightView& w, float* out, kernels::ThreadPool& pool) {
  const uint32_t t_out = (t_in + 1) / 2;
  const uint32_t f_out = (f_in + 1) / 2;
  const int64_t k = int64_t{9} * c_in;
  std::vector<float> cols(size_t{kConvBlockSteps} * f_out * k);
  for (uint32_t t0 = 0; t0 < t_out; t0 += kConvBlockSteps) {
    const uint32_t nt = std::min(kConvBlockSteps, t_out - t0);
    for (uint32_t dt = 0; dt < nt; ++dt) {
      for (uint32_t fo = 0; fo < f_out; ++fo) {
        float* row = cols.data() + (size_t{dt} * f_out + fo) * k;
        for (uint32_t kt = 0; kt < 3; ++kt) {
          const int64_t ti = 2 * int64_t{t0 + dt} + kt - 1;
          for (uint32_t kf = 0; kf < 3; ++kf) {
            const int64_t fi = 2 * int64_t{fo} + kf - 1;
            const bool inside = ti >= 0 && ti < t_in && fi >= 0 && fi < f_in;
            const float* src = inside ? in + (size_t(ti) * f_in + size_t(fi)) * c_in : nullptr;
            for (uint32_t ic = 0; ic < c_in; ++ic)
              row[ic * 9 + kt * 3 + kf] = inside ? src[ic] : 0.0f;
          }
        }
      }
    }
    kernels::blocked_matmul(w, cols.data(), int64_t{nt} * f_out, out + size_t{t0} * f_out * w.n_out,
                            pool);
  }
}

void layer_norm_relu_rows(float* x, const float* w, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    float* v = x + r * n;
    double mean = 0.0;
    for (int64_t i = 0; i < n; ++i)
      mean += v[i];
    mean /= n;
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i)
      var += (v[i] - mean) * (v[i] - mean);
    var /= n;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < n; ++i)
      v[i] = std::max(0.0f, (v[i] - m) * inv * w[i]);
  }
}

void silu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = x[i] * sigmoid(x[i]);
}

void glu(const float* u, int64_t n, int64_t ch, float* out) {
  for (int64_t t = 0; t < n; ++t) {
    const float* r = u + t * 2 * ch;
    for (int64_t c = 0; c < ch; ++c)
      out[t * ch + c] = r[c] * sigmoid(r[ch + c]);
  }
}

void depthwise_causal_conv(const float* u, const float* w, int64_t n, int64_t ch, float* y) {
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t c = 0; c < ch; ++c) {
      float acc = 0.0f;
      for (int64_t j = 0; j < kDwKernel; ++j) {
        const int64_t s = t - (kDwKernel - 1) + j;
        if (s >= 0) acc += w[c * kDwKernel + j] * u[s * ch + c];
      }
      y[t * ch + c] = acc;
    }
  }
}

std::vector<float> relative_position_rows(const kernels::WeightView& k_rel, uint32_t hidden,
                                          kernels::ThreadPool& pool) {
  const uint32_t half = hidden / 2;
  std::vector<float> sinusoid(size_t{kAttnWindow} * hidden);
  for (uint32_t delta = 0; delta < kAttnWindow; ++delta) {
    for (uint32_t i = 0; i < half; ++i) {
      const double g = std::exp(-static_cast<double>(i) * std::log(10000.0) / (half - 1));
      sinusoid[size_t{delta} * hidden + i] = static_cast<float>(std::sin(delta * g));
      sinusoid[size_t{delta} * hidden + half + i] = static_cast<float>(std::cos(delta * g));
    }
  }
  std::vector<float> rel(size_t{kAttnWindow} * hidden);
  kernels::blocked_matmul(k_rel, sinusoid.data(), kAttnWindow, rel.data(), pool);
  return rel;
}

void local_attention(float* q, float* k, const float* v, const float* rel, const float* pds,
                     int64_t n, uint32_t n_head, uint32_t head_dim, float* o,
                     kernels::ThreadPool& pool) {
  const int64_t width = int64_t{n_head} * head_dim;
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(head_dim)) / std::numbers::ln2_v<float>;
  const float k_scale = std::log1p(std::numbers::e_v<float>) / std::numbers::ln2_v<float>;
  for (int64_t t = 0; t < n; ++t) {
    for (uint32_t h = 0; h < n_head; ++h) {
      float* qh = q + t * width + int64_t{h} * head_dim;
      float* kh = k + t * width + int64_t{h} * head_dim;
      for (uint32_t d = 0; d < head_dim; ++d) {
        qh[d] *= q_scale * pds[d];
        kh[d] *= k_scale;
      }
    }
  }
  pool.parallel_for(n, 8, [&](int64_t t0, int64_t t1, int) {
    float logits[kAttnWindow];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t s0 = std::max<int64_t>(0, t - (kAttnWindow - 1));
      for (uint32_t h = 0; h < n_head; ++h) {
        const int64_t off = int64_t{h} * head_dim;
        const float* qh = q + t * width + off;
        float mx = -INFINITY;
        for (int64_t s = s0; s <= t; ++s) {
          const float* kh = k + s * width + off;
          const float* rh = rel + (t - s) * width + off;
          float acc = 0.0f;
          for (uint32_t d = 0; d < head_dim; ++d)
            acc += qh[d] * (kh[d] + rh[d]);
          const float capped = kAttnSoftcap * std::tanh(acc / kAttnSoftcap);
          logits[s - s0] = capped;
          mx = std::max(mx, capped);
        }
        float sum = 0.0f;
        for (int64_t s = s0; s <= t; ++s) {
          logits[s - s0] = std::exp(logits[s - s0] - mx);
          sum += logits[s - s0];
        }
        float* oh = o + t * width + off;
        std::fill(oh, oh + head_dim, 0.0f);
        for (int64_t s = s0; s <= t; ++s) {
          const float p = logits[s - s0] / sum;
          const float* vh = v + s * width + off;
          for (uint32_t d = 0; d < head_dim; ++d)
            oh[d] += p * vh[d];
        }
      }
    }
  });
}

}  // namespace gemmad::audio
