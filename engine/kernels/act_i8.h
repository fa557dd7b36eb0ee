// Activations quantised to int8 for the scaled-code dot kernels (dot_gq.h), and the int8
// fake-quantisation of outputs: the "a8" and "o8" of Google's mobile schema wNa8o8
// (docs/FORMATS.md "Static activations").
//
// A weight with scales per group of G elements (G = n_in for per-row scales) multiplies
// activations quantised with one scale per group of the same G elements:
//   static  (the layer has an input scale s > 0, fixed in training):
//           q = clamp(round_half_even(x / s), -128, 127), every group's d = s;
//   dynamic (no input scale, or s == 0 "uncalibrated"):
//           d = max|x| over the group / 127, q = round_half_even(x / d) (q = 0 when d = 0).
// Then y = sum_g w_scale[g] * d[g] * sum_{i in g} k_i q_i with the inner sum exact in int32
// (|k| <= 128, |q| <= 128, G <= kMaxGroup). Division (not a multiply by 1/s) is the schema's
// rule; nearbyint in the default rounding mode rounds half to even.
#pragma once

#include <cstdint>
#include <vector>

namespace gemmad::kernels {

// Largest group (and so largest per-row n_in) whose int32 sums cannot overflow:
// 131072 * 128 * 128 = 2^31.
inline constexpr int64_t kMaxGroup = 131071;

// Read-only view of n_tok quantised rows: token t's codes at qs + t * n_in, its group scales
// and code sums at d / sum + t * n_groups.
//
// Phase order: for weights packing P codes per byte (gq4: 2, gq2: 4), each group's codes are
// stored plane by plane, element i of the group at (i % P) * (group / P) + i / P, so byte j of a
// weight row's group meets the activations of its P codes at offset j of the P planes: SIMD
// kernels split a byte vector into its P bit fields and multiply each with one contiguous plane,
// with no shuffles. P = 1 (gq8) is natural order. act_i8_index() gives the position.
struct ActI8 {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  const int32_t* sum = nullptr;
  int64_t n_in = 0;
  int64_t n_tok = 0;
  int64_t group = 0;
  int64_t n_groups = 0;
  int phases = 1;  // P
};

// Position of element i (0 <= i < group) of a group in phase order with P phases.
inline int64_t act_i8_index(int64_t group, int phases, int64_t i) {
  return (i % phases) * (group / phases) + i / phases;
}

// Reorders each group of qs[0..n) from natural into phase order (P = phases).
void act_i8_to_phases(int8_t* qs, int64_t n, int64_t group, int phases);

class ActI8Buffer {
 public:
  void reserve(int64_t n_in, int64_t n_tok, int64_t group);
  int8_t* qs(int64_t t) { return qs_.data() + t * n_in_; }
  float* d(int64_t t) { return d_.data() + t * n_groups_; }
  int32_t* sum(int64_t t) { return sum_.data() + t * n_groups_; }
  ActI8 view(int phases) const {
    return ActI8{qs_.data(), d_.data(), sum_.data(), n_in_, n_tok_, group_, n_groups_, phases};
  }

 private:
  std::vector<int8_t> qs_;
  std::vector<float> d_;
  std::vector<int32_t> sum_;
  int64_t n_in_ = 0, n_tok_ = 0, group_ = 0, n_groups_ = 0;
};

// Quantises one token x[0..n) (group divides n) as described above; static_scale <= 0 (or
// not finite) selects the dynamic rule.
void quantize_act_i8(const float* x, int64_t n, int64_t group, float static_scale, int8_t* qs,
                     float* d, int32_t* sum);

// y[i] = clamp(round_half_even(y[i] / s), -128, 127) * s for i < n (the output rule); s > 0.
void fake_quant_i8(float* y, int64_t n, float s);

}  // namespace gemmad::kernels
