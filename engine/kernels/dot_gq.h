// Scaled-code weights (gq2, gq4, gq8: quant/scaled_codes.h) x int8 activations (act_i8.h):
// the scalar reference and the SIMD kernels, one file per instruction set.
//
// For the n_rows rows at w (row r at w + r * row_bytes) with scales [n_rows][a.n_groups] and
// every token t < a.n_tok:
//   y[t * ldy + r] = sum_g (scales[r][g] * a.d[t][g]) * float(isum(r, t, g))
// summed over g in increasing order, isum being the exact int32 sum over the group of
// code value x activation code. Every set computes the same isum and then these same f32
// operations, so results are bit-identical across sets.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/act_i8.h"
#include "quant/ggml_type.h"

namespace gemmad::kernels {

using GDotFn = void (*)(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* scales,
                        const ActI8& a, float* y, int64_t ldy);

void dot_gq2_ref(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq4_ref(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq8_ref(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq2_avx2(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq4_avx2(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq8_avx2(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq2_avx512(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq4_avx512(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq8_avx512(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq2_neon(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq4_neon(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);
void dot_gq8_neon(const uint8_t*, uint64_t, int64_t, const float*, const ActI8&, float*, int64_t);

// sum_g (sr[g] * dt[g]) * float(isum[g]) in increasing g: the f32 part, compiled once in
// the reference file (no FMA contraction differences between sets).
float gq_combine(const float* sr, const float* dt, const int32_t* isum, int64_t n_groups);

// Exact sum over bytes [j0, j1) of one group's packed codes (`gbytes` = the group's first
// byte) times the phase-ordered activations `q` of that group (the reference, and the SIMD
// kernels' tails). `bits` 2 or 4; P = 8 / bits phases of group / P values each.
int32_t gq_packed_sum_ref(int bits, const uint8_t* gbytes, const int8_t* q, int64_t group,
                          int64_t j0, int64_t j1);

// Shared driver: the combination above, with `isum(row, t, g)` supplied by each set.
template <typename GroupSum>
inline void gq_rows(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* scales,
                    const ActI8& a, float* y, int64_t ldy, GroupSum isum) {
  int32_t small[64];
  std::vector<int32_t> big;
  int32_t* sums = small;
  if (a.n_groups > 64) {
    big.resize(static_cast<size_t>(a.n_groups));
    sums = big.data();
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    const float* sr = scales + r * a.n_groups;
    for (int64_t t = 0; t < a.n_tok; ++t) {
      for (int64_t g = 0; g < a.n_groups; ++g)
        sums[g] = isum(row, t, g);
      y[t * ldy + r] = gq_combine(sr, a.d + t * a.n_groups, sums, a.n_groups);
    }
  }
}

// Defines dot_gq2_<set>, dot_gq4_<set> and dot_gq8_<set> in terms of a file's
// `template <int kBits> int32_t group_isum(const uint8_t* row, const ActI8& a, int64_t t,
// int64_t g)` (the exact sum of one group), so each set writes only that.
#define GEMMAD_GQ_KERNEL_(bits, set)                                                  \
  void dot_gq##bits##_##set(const uint8_t* w, uint64_t rb, int64_t n, const float* s, \
                            const ActI8& a, float* y, int64_t ldy) {                  \
    gq_rows(w, rb, n, s, a, y, ldy, [&](const uint8_t* row, int64_t t, int64_t g) {   \
      return group_isum<bits>(row, a, t, g);                                          \
    });                                                                               \
  }
#define GEMMAD_DEFINE_GQ_KERNELS(set) \
  GEMMAD_GQ_KERNEL_(2, set)           \
  GEMMAD_GQ_KERNEL_(4, set)           \
  GEMMAD_GQ_KERNEL_(8, set)

}  // namespace gemmad::kernels
