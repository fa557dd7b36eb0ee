// Private: the byte layout of each quantised block this engine computes with, as plain
// structs whose sizes are checked against the traits table (docs/GEMMA4.md §3.6).
// Blocks are read from unaligned mmap'd bytes, so fp16 fields are uint16_t read via memcpy.
#pragma once

#include <cstdint>

namespace gemmad::quant::blocks {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK_K = 256;
inline constexpr int kQK2_0 = 64;
inline constexpr int kKScaleBytes = 12;  // Q4_K packed 6-bit scales and mins

// Q4_0: value j<16 = low nibble of qs[j], value j+16 = high nibble; (q - 8) * d.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q8_0: q * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q4_K: 8 sub-blocks of 32; value = d * sc[g] * q - dmin * m[g], with sc/m 6-bit packed.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q6_K: 16 sub-blocks of 16; value = d * scales[g] * (q - 32), q 6-bit from ql (low 4) and
// qh (high 2).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Q2_0: value i = code in bits 2*(i%4) of qs[i/4] (LSB first); (q - 1) * d.
struct BlockQ2_0 {
  uint16_t d;
  uint8_t qs[kQK2_0 / 4];
};
static_assert(sizeof(BlockQ2_0) == 18);

// Q4_K scale/min j (0..7) from the 12 packed bytes: j < 4 in the low 6 bits of bytes j and
// j+4; j >= 4 split: low 4 bits in byte j+4's nibbles, high 2 bits in the top bits of bytes
// j-4 (scale) and j (min).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace gemmad::quant::blocks
