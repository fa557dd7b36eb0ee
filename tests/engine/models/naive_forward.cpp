// The plain double-precision Gemma 4 forward pass used as the model tests' oracle.
#include "naive_forward.h"

#include <cmath>
#include <string>

#include "quant/ggml_type.h"

namespace gemmad::engine::testing {
namespace {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;  // rows

struct Tensor {
  std::vector<double> v;
  uint64_t n_in = 0, n_out = 1;
  bool present = false;
  quant::GgmlType type = quant::GgmlType::kF32;
};

Tensor load(const gguf::GgufFile& f, const std::string& name) {
  Tensor t;
  const gguf::TensorInfo* ti = f.find_tensor(name);
  if (ti == nullptr) return t;
  t.present = true;
  t.type = ti->type;
  t.n_in = ti->ne[0];
  t.n_out = ti->n_dims > 1 ? ti->ne[1] : 1;
  const uint64_t rb = *quant::row_bytes(ti->type, t.n_in);
  std::vector<float> row(t.n_in);
  for (uint64_t r = 0; r < t.n_out; ++r) {
    quant::dequantize_row_ref(ti->type, ti->data + r * rb, row.data(),
                              static_cast<int64_t>(t.n_in));
    t.v.insert(t.v.end(), row.begin(), row.end());
  }
  return t;
}

double scalar_or(const gguf::GgufFile& f, const std::string& name, double fallback) {
  const Tensor t = load(f, name);
  return t.present ? t.v[0] : fallback;
}

// The numerics contract of kernels/matmul.h: these weight types multiply activations
// quantised to Q8_0 blocks (the kernels' integer dot products are exact, so the oracle may
// use the dequantised values).
bool uses_q8_activations(quant::GgmlType t) {
  return t == quant::GgmlType::kQ4_0 || t == quant::GgmlType::kQ8_0 ||
         t == quant::GgmlType::kQ2_0 || t == quant::GgmlType::kQ4_K || t == quant::GgmlType::kQ6_K;
}

Vec q8_round_trip(const Vec& x) {
  std::vector<float> xf(x.begin(), x.end()), back(x.size());
  std::vector<uint8_t> q(*quant::row_bytes(quant::GgmlType::kQ8_0, x.size()));
  quant::quantize_row_ref(quant::GgmlType::kQ8_0, xf.data(), q.data(),
                          static_cast<int64_t>(x.size()));
  quant::dequantize_row_ref(quant::GgmlType::kQ8_0, q.data(), back.data(),
                            static_cast<int64_t>(x.size()));
  return Vec(back.begin(), back.end());
}

// y = W x (times the `.scale` companion of `base`, if any).
Vec linear(const gguf::GgufFile& f, const std::string& base, const Vec& x_in) {
  const Tensor w = load(f, base + ".weight");
  const double s = scalar_or(f, base + ".scale", 1.0);
  const Vec x = uses_q8_activations(w.type) ? q8_round_trip(x_in) : x_in;
  Vec y(w.n_out, 0.0);
  for (uint64_t o = 0; o < w.n_out; ++o) {
    double acc = 0.0;
    for (uint64_t i = 0; i < w.n_in; ++i)
      acc += w.v[o * w.n_in + i] * x[i];
    y[o] = acc * s;
  }
  return y;
}

// RMSNorm of x[off, off+n) with weight w (empty: none).
void rms(Vec& x, size_t off, size_t n, const std::vector<double>& w, double eps) {
  double ss = 0.0;
  for (size_t i = 0; i < n; ++i)
    ss += x[off + i] * x[off + i];
  const double s = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (size_t i = 0; i < n; ++i)
    x[off + i] *= s * (w.empty() ? 1.0 : w[i]);
}

double gelu(double z) {
  return 0.5 * z * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
}

// NEOX RoPE on n_heads heads of hd values at position pos.
void rope(Vec& x, int n_heads, int hd, int n_rot, double base, const std::vector<float>& factors,
          int pos) {
  for (int h = 0; h < n_heads; ++h) {
    for (int j = 0; j < n_rot / 2; ++j) {
      const double factor = factors.empty() ? 1.0 : factors[j];
      if (factor >= 1e20) continue;  // HF: inverse frequency 0
      const double theta = pos * std::pow(base, -2.0 * j / n_rot) / factor;
      double& a = x[h * hd + j];
      double& b = x[h * hd + j + n_rot / 2];
      const double a0 = a, b0 = b;
      a = a0 * std::cos(theta) - b0 * std::sin(theta);
      b = b0 * std::cos(theta) + a0 * std::sin(theta);
    }
  }
}

}  // namespace

std::vector<std::vector<double>> naive_logits(const gguf::GgufFile& f, const Gemma4Config& c,
                                              const std::vector<int>& tokens) {
  const int T = static_cast<int>(tokens.size());
  const size_t d = c.n_embd, p = c.n_embd_per_layer, L = c.n_layer;
  const double eps = c.rms_eps;
  const Tensor embd = load(f, "token_embd.weight");
  const Tensor ple_tab = load(f, "per_layer_token_embd.weight");
  const Tensor ple_norm = load(f, "per_layer_proj_norm.weight");

  Mat h(T), ple(T);
  for (int t = 0; t < T; ++t) {
    Vec x(d);
    for (size_t i = 0; i < d; ++i)
      x[i] = embd.v[tokens[t] * d + i] * std::sqrt(double(d));
    Vec cp = linear(f, "per_layer_model_proj", x);
    ple[t].resize(L * p);
    for (size_t l = 0; l < L; ++l) {
      for (size_t i = 0; i < p; ++i)
        cp[l * p + i] /= std::sqrt(double(d));
      rms(cp, l * p, p, ple_norm.v, eps);
      for (size_t i = 0; i < p; ++i) {
        const double e = ple_tab.v[tokens[t] * L * p + l * p + i] * std::sqrt(double(p));
        ple[t][l * p + i] = (cp[l * p + i] + e) / std::sqrt(2.0);
      }
    }
    h[t] = x;
  }

  std::vector<Mat> kc(L), vc(L);  // K/V per owning layer [T][Hkv*hd]
  for (uint32_t il = 0; il < L; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int hd = static_cast<int>(c.head_dim(il)), H = c.n_head, Hkv = c.n_head_kv;
    const bool swa = c.is_swa[il];
    const int n_rot = static_cast<int>(swa ? c.n_rot_swa : c.n_rot_full);
    const double base = swa ? c.rope_base_swa : c.rope_base_full;
    const std::vector<float> no_factors;
    const std::vector<float>& factors = swa ? no_factors : c.rope_freq_factors;
    const Tensor attn_norm = load(f, b + "attn_norm.weight");
    const Tensor q_norm = load(f, b + "attn_q_norm.weight");
    Mat q(T);
    for (int t = 0; t < T; ++t) {
      Vec a = h[t];
      rms(a, 0, d, attn_norm.v, eps);
      q[t] = linear(f, b + "attn_q", a);
      for (int hh = 0; hh < H; ++hh)
        rms(q[t], hh * hd, hd, q_norm.v, eps);
      rope(q[t], H, hd, n_rot, base, factors, t);
      if (c.owns_kv(il)) {
        const Tensor k_norm = load(f, b + "attn_k_norm.weight");
        Vec k = linear(f, b + "attn_k", a);
        Vec v = load(f, b + "attn_v.weight").present ? linear(f, b + "attn_v", a) : k;
        for (int hh = 0; hh < Hkv; ++hh) {
          rms(k, hh * hd, hd, k_norm.v, eps);
          rms(v, hh * hd, hd, {}, eps);
        }
        rope(k, Hkv, hd, n_rot, base, factors, t);
        kc[il].push_back(k);
        vc[il].push_back(v);
      }
    }
    const uint32_t src = c.kv_source_layer(il);
    const Tensor post_attn = load(f, b + "post_attention_norm.weight");
    const Tensor ffn_norm = load(f, b + "ffn_norm.weight");
    const Tensor post_ffw = load(f, b + "post_ffw_norm.weight");
    const Tensor post_norm = load(f, b + "post_norm.weight");
    const double layer_scale = scalar_or(f, b + "layer_output_scale.weight", 1.0);
    for (int t = 0; t < T; ++t) {
      Vec heads(H * hd, 0.0);
      const int lo = swa ? std::max(0, t - static_cast<int>(c.n_swa) + 1) : 0;
      for (int hh = 0; hh < H; ++hh) {
        const int j = hh / (H / Hkv);
        std::vector<double> s;
        double mx = -1e300;
        for (int u = lo; u <= t; ++u) {
          double acc = 0.0;
          for (int i = 0; i < hd; ++i)
            acc += q[t][hh * hd + i] * kc[src][u][j * hd + i];
          s.push_back(acc);  // scale 1.0
          mx = std::max(mx, acc);
        }
        double sum = 0.0;
        for (double& x : s)
          sum += (x = std::exp(x - mx));
        for (int u = lo; u <= t; ++u) {
          for (int i = 0; i < hd; ++i) {
            heads[hh * hd + i] += s[u - lo] / sum * vc[src][u][j * hd + i];
          }
        }
      }
      Vec o = linear(f, b + "attn_output", heads);
      rms(o, 0, d, post_attn.v, eps);
      for (size_t i = 0; i < d; ++i)
        h[t][i] += o[i];
      Vec fn = h[t];
      rms(fn, 0, d, ffn_norm.v, eps);
      Vec g = linear(f, b + "ffn_gate", fn);
      const Vec u = linear(f, b + "ffn_up", fn);
      for (size_t i = 0; i < g.size(); ++i)
        g[i] = gelu(g[i]) * u[i];
      Vec dn = linear(f, b + "ffn_down", g);
      rms(dn, 0, d, post_ffw.v, eps);
      for (size_t i = 0; i < d; ++i)
        h[t][i] += dn[i];
      Vec pg = linear(f, b + "inp_gate", h[t]);
      for (size_t i = 0; i < p; ++i)
        pg[i] = gelu(pg[i]) * ple[t][il * p + i];
      Vec pu = linear(f, b + "proj", pg);
      rms(pu, 0, d, post_norm.v, eps);
      for (size_t i = 0; i < d; ++i)
        h[t][i] = (h[t][i] + pu[i]) * layer_scale;
    }
  }

  const Tensor out_norm = load(f, "output_norm.weight");
  const double out_scale = scalar_or(f, "output.scale", 1.0);
  std::vector<std::vector<double>> logits(T);
  for (int t = 0; t < T; ++t) {
    Vec y = h[t];
    rms(y, 0, d, out_norm.v, eps);
    if (uses_q8_activations(embd.type)) y = q8_round_trip(y);
    logits[t].resize(c.n_vocab);
    for (uint32_t o = 0; o < c.n_vocab; ++o) {
      double acc = 0.0;
      for (size_t i = 0; i < d; ++i)
        acc += embd.v[o * d + i] * y[i];
      acc *= out_scale;
      const double cap = c.final_logit_softcap;
      logits[t][o] = cap > 0 ? cap * std::tanh(acc / cap) : acc;
    }
  }
  return logits;
}

}  // namespace gemmad::engine::testing
