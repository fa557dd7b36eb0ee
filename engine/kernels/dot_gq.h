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
#include <type_traits>
#include <vector>

#include "kernels/act_i8.h"
#include "kernels/row_tiles.h"
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

// The reference driver, row by row: the combination above, with `isum(row, t, g)` supplied by each
// set.
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

// Rows per tile of the SIMD kernels (kTileTok of row_tiles.h): each activation vector loaded
// serves this many weight rows (decode reads one token against every row).
inline constexpr int kGqTileRows = kTileTok;

// The SIMD driver: rows in tiles of kGqTileRows (the 1-3 rows left as one smaller tile); per
// tile, token and group, `isums(std::integral_constant<int, R>{}, tile_row0, t, g, out)`
// writes the exact sums of the tile's R rows to out[i * a.n_groups], i < R; then each row is
// combined as in gq_rows. The sums are exact, so the result is bit-identical to gq_rows.
template <typename TileSums>
inline void gq_row_tiles(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const float* scales,
                         const ActI8& a, float* y, int64_t ldy, TileSums isums) {
  int32_t small[kGqTileRows * 64];
  std::vector<int32_t> big;
  int32_t* sums = small;
  if (a.n_groups > 64) {
    big.resize(static_cast<size_t>(kGqTileRows * a.n_groups));
    sums = big.data();
  }
  auto tile = [&](auto rows, int64_t r0) {
    constexpr int kR = decltype(rows)::value;
    const uint8_t* row = w + r0 * row_bytes;
    for (int64_t t = 0; t < a.n_tok; ++t) {
      for (int64_t g = 0; g < a.n_groups; ++g)
        isums(rows, row, t, g, sums + g);
      for (int i = 0; i < kR; ++i) {
        y[t * ldy + r0 + i] = gq_combine(scales + (r0 + i) * a.n_groups, a.d + t * a.n_groups,
                                         sums + i * a.n_groups, a.n_groups);
      }
    }
  };
  token_tiles(n_rows, tile);  // row tiles [r0, r0 + R): the same split as token tiles
}

// Defines dot_gq2_<set>, dot_gq4_<set> and dot_gq8_<set> in terms of a file's
// `template <int kBits, int kR> void group_isums(const uint8_t* row0, uint64_t row_bytes,
// const ActI8& a, int64_t t, int64_t g, int32_t* out, int64_t out_stride)` (the exact sums of
// one group of kR consecutive rows, row i's at out[i * out_stride]), so each set writes only
// that.
#define GEMMAD_GQ_KERNEL_(bits, set)                                                             \
  void dot_gq##bits##_##set(const uint8_t* w, uint64_t rb, int64_t n, const float* s,            \
                            const ActI8& a, float* y, int64_t ldy) {                             \
    gq_row_tiles(w, rb, n, s, a, y, ldy,                                                         \
                 [&](auto rows, const uint8_t* row0, int64_t t, int64_t g, int32_t* out) {       \
                   group_isums<bits, decltype(rows)::value>(row0, rb, a, t, g, out, a.n_groups); \
                 });                                                                             \
  }
#define GEMMAD_DEFINE_GQ_KERNELS(set) \
  GEMMAD_GQ_KERNEL_(2, set)           \
  GEMMAD_GQ_KERNEL_(4, set)           \
  GEMMAD_GQ_KERNEL_(8, set)

}  // namespace gemmad::kernels
