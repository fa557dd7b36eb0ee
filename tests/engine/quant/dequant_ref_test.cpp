// Tests of dequantize_row_ref: for each computable type, blocks whose bytes are written by
// hand and whose values are worked out by hand from the layouts in docs/GEMMA4.md §3.6.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/ggml_type.h"

namespace gemmad::quant {
namespace {

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n), -12345.0f);
  dequantize_row_ref(t, bytes.data(), out.data(), n);
  return out;
}

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v & 0xff);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

TEST(DequantizeRef, F32CopiesTheValues) {
  const float src[3] = {1.5f, -0.0f, 3.0e38f};
  std::vector<uint8_t> b(sizeof src);
  std::memcpy(b.data(), src, sizeof src);
  const std::vector<float> y = dequant(GgmlType::kF32, b, 3);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_TRUE(std::signbit(y[1]));
  EXPECT_EQ(y[2], 3.0e38f);
}

TEST(DequantizeRef, F16DecodesHalfFloats) {
  std::vector<uint8_t> b(10);
  put16(b, 0, 0x3C00);  // sign 0, exp 15 (bias 15), mantissa 0 -> 1.0
  put16(b, 2, 0xC000);  // sign 1, exp 16 -> -2.0
  put16(b, 4, 0x3555);  // exp 13 -> 2^-2 * (1 + 0x155/1024) = 0.25 * 1.3330078125
  put16(b, 6, 0x0001);  // smallest subnormal: 2^-24
  put16(b, 8, 0x7BFF);  // largest finite: 2^15 * (1 + 1023/1024) = 65504
  const std::vector<float> y = dequant(GgmlType::kF16, b, 5);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 0.333251953125f);
  EXPECT_EQ(y[3], 5.9604644775390625e-8f);
  EXPECT_EQ(y[4], 65504.0f);
}

TEST(DequantizeRef, Bf16DecodesTheTopHalfOfAFloat) {
  std::vector<uint8_t> b(6);
  put16(b, 0, 0x3F80);  // 0x3F800000 = 1.0
  put16(b, 2, 0xC040);  // 0xC0400000 = -3.0
  put16(b, 4, 0x4049);  // 0x40490000 = 2 * (1 + 0x490000 / 2^23) = 3.140625
  const std::vector<float> y = dequant(GgmlType::kBF16, b, 3);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[2], 3.140625f);
}

TEST(DequantizeRef, Q8_0MultipliesSignedBytesByTheScale) {
  // Two blocks of 34 bytes: fp16 d, then 32 int8.
  std::vector<uint8_t> b(68, 0);
  put16(b, 0, 0x3800);   // d = 0.5
  b[2] = 3;              // element 0: 3 * 0.5 = 1.5
  b[3] = 0x80;           // element 1: -128 * 0.5 = -64
  b[33] = 0x7F;          // element 31: 127 * 0.5 = 63.5
  put16(b, 34, 0xC000);  // block 2: d = -2
  b[36] = 0xFF;          // element 32: -1 * -2 = 2
  const std::vector<float> y = dequant(GgmlType::kQ8_0, b, 64);
  for (int i = 0; i < 64; ++i) {
    float want = 0.0f;
    if (i == 0) want = 1.5f;
    if (i == 1) want = -64.0f;
    if (i == 31) want = 63.5f;
    if (i == 32) want = 2.0f;
    EXPECT_EQ(y[i], want) << i;
  }
}

TEST(DequantizeRef, Q4_0SplitsEachByteIntoElementJAndJPlus16) {
  // Two blocks of 18 bytes: fp16 d, 16 bytes qs. 0x88 = codes 8/8 = value 0.
  std::vector<uint8_t> b(36, 0x88);
  put16(b, 0, 0x4000);   // d = 2
  b[2] = 0x1F;           // qs[0]: element 0 = (15 - 8) * 2 = 14; element 16 = (1 - 8) * 2 = -14
  b[17] = 0x80;          // qs[15]: element 15 = (0 - 8) * 2 = -16; element 31 = (8 - 8) * 2 = 0
  put16(b, 18, 0x3400);  // block 2: d = 0.25
  b[20 + 3] = 0x9C;      // qs[3]: element 32+3 = (12 - 8) / 4 = 1; element 32+19 = (9 - 8) / 4
  const std::vector<float> y = dequant(GgmlType::kQ4_0, b, 64);
  for (int i = 0; i < 64; ++i) {
    float want = 0.0f;
    if (i == 0) want = 14.0f;
    if (i == 16) want = -14.0f;
    if (i == 15) want = -16.0f;
    if (i == 35) want = 1.0f;
    if (i == 51) want = 0.25f;
    EXPECT_EQ(y[i], want) << i;
  }
}

TEST(DequantizeRef, Q4_KUnpacksSixBitScalesAndMins) {
  // Block: fp16 d, fp16 dmin, 12 bytes scales, 128 bytes qs (144 bytes).
  // Chosen scales sc[0..7] = {1, 2, 3, 4, 63, 17, 33, 48}, mins m[0..7] = {0, 1, 2, 3, 5, 16,
  // 40, 63}. Packing (j < 4 in the low 6 bits of bytes j and j+4; j >= 4: low nibbles in byte
  // j+4, top 2 bits in bytes j-4 / j):
  //   byte0 = sc0 | (sc4>>4)<<6 = 1 | 3<<6 = 0xC1   byte1 = 2 | (17>>4)<<6 = 0x42
  //   byte2 = 3 | (33>>4)<<6 = 0x83                  byte3 = 4 | (48>>4)<<6 = 0xC4
  //   byte4 = m0 | (m4>>4)<<6 = 0 | 0 = 0x00         byte5 = 1 | (16>>4)<<6 = 0x41
  //   byte6 = 2 | (40>>4)<<6 = 0x82                  byte7 = 3 | (63>>4)<<6 = 0xC3
  //   byte8 = (63&15) | (5&15)<<4 = 0x5F             byte9 = (17&15) | (16&15)<<4 = 0x01
  //   byte10 = (33&15) | (40&15)<<4 = 0x81           byte11 = (48&15) | (63&15)<<4 = 0xF0
  const float sc[8] = {1, 2, 3, 4, 63, 17, 33, 48};
  const float m[8] = {0, 1, 2, 3, 5, 16, 40, 63};
  std::vector<uint8_t> b(144, 0);
  put16(b, 0, 0x3C00);  // d = 1
  put16(b, 2, 0x3800);  // dmin = 0.5
  const uint8_t scales[12] = {0xC1, 0x42, 0x83, 0xC4, 0x00, 0x41,
                              0x82, 0xC3, 0x5F, 0x01, 0x81, 0xF0};
  std::memcpy(b.data() + 4, scales, 12);
  // Value = d * sc[g] * q - dmin * m[g]. qs[32c + l]: low nibble -> element 64c + l (group
  // 2c), high nibble -> element 64c + 32 + l (group 2c + 1). All other codes are 0.
  b[16 + 0] = 0x7A;    // el 0: 1*10 - 0 = 10;       el 32: 2*7 - 0.5*1 = 13.5
  b[16 + 64] = 0x21;   // el 128: 63*1 - 0.5*5 = 60.5; el 160: 17*2 - 0.5*16 = 26
  b[16 + 127] = 0xF3;  // el 223: 33*3 - 0.5*40 = 79;  el 255: 48*15 - 0.5*63 = 688.5
  const std::vector<float> y = dequant(GgmlType::kQ4_K, b, 256);
  for (int i = 0; i < 256; ++i) {
    float want = -0.5f * m[i / 32];  // code 0
    if (i == 0) want = 10.0f;
    if (i == 32) want = 13.5f;
    if (i == 128) want = 60.5f;
    if (i == 160) want = 26.0f;
    if (i == 223) want = 79.0f;
    if (i == 255) want = 688.5f;
    EXPECT_EQ(y[i], want) << i << " (group " << i / 32 << ", scale " << sc[i / 32] << ")";
  }
}

TEST(DequantizeRef, Q6_KInterleavesLowAndHighBits) {
  // Block: ql[128], qh[64], scales[16] int8, fp16 d (210 bytes). q = 32 (value 0) is low
  // nibble 0 with high bits 0b10, so ql = 0 and qh = 0b10101010 everywhere else.
  std::vector<uint8_t> b(210, 0);
  for (int i = 128; i < 192; ++i)
    b[i] = 0xAA;
  for (int i = 192; i < 208; ++i)
    b[i] = 1;                             // scales default 1
  b[192 + 0] = 2;                         // scale 0 = 2
  b[192 + 2] = static_cast<uint8_t>(-3);  // scale 2 = -3
  b[192 + 4] = 4;                         // scale 4 = 4
  b[192 + 6] = 1;                         // scale 6 = 1
  b[192 + 9] = 0x80;                      // scale 9 = -128
  put16(b, 208, 0x3800);                  // d = 0.5
  // First half, l = 0: elements 0/32/64/96 use ql[0] low, ql[32] low, ql[0] high, ql[32]
  // high and qh[0] bits 0-1, 2-3, 4-5, 6-7; scales 0, 2, 4, 6.
  b[0] = 0x5F;        // ql[0]: low 15, high 5; ql[32] stays 0
  b[128 + 0] = 0x1E;  // qh[0] = 00 01 11 10: bits0-1 = 2, bits2-3 = 3, bits4-5 = 1, bits6-7 = 0
  // el 0:  q = 15 | 2<<4 = 47 -> 15;  0.5 * 2 * 15 = 15
  // el 32: q = 0 | 3<<4 = 48 -> 16;   0.5 * -3 * 16 = -24
  // el 64: q = 5 | 1<<4 = 21 -> -11;  0.5 * 4 * -11 = -22
  // el 96: q = 0 | 0<<4 = 0 -> -32;   0.5 * 1 * -32 = -16
  // Second half, l = 17: element 128 + 17 = 145 uses ql[64 + 17], qh[32 + 17] bits 0-1 and
  // scale 8 + 17/16 = 9.
  b[64 + 17] = 0x03;        // low nibble 3
  b[128 + 32 + 17] = 0xAB;  // bits 0-1 = 3, the rest stay 0b10
  // el 145: q = 3 | 3<<4 = 51 -> 19; 0.5 * -128 * 19 = -1216
  const std::vector<float> y = dequant(GgmlType::kQ6_K, b, 256);
  for (int i = 0; i < 256; ++i) {
    float want = 0.0f;
    if (i == 0) want = 15.0f;
    if (i == 32) want = -24.0f;
    if (i == 64) want = -22.0f;
    if (i == 96) want = -16.0f;
    if (i == 145) want = -1216.0f;
    EXPECT_EQ(y[i], want) << i;
  }
}

TEST(DequantizeRef, Q2_0ReadsFourCodesPerByteLowBitsFirst) {
  // Two blocks of 18 bytes: fp16 d, 16 bytes. Code 1 is value 0, so 0x55 = four zeros.
  std::vector<uint8_t> b(36, 0x55);
  put16(b, 0, 0xBE00);   // d = -1.5
  b[2] = 0xE4;           // 11 10 01 00: elements 0..3 = codes 0,1,2,3 -> (q-1)*d = 1.5,0,-1.5,-3
  b[17] = 0x1B;          // 00 01 10 11: elements 60..63 = codes 3,2,1,0 -> -3,-1.5,0,1.5
  put16(b, 18, 0x4000);  // block 2: d = 2
  b[20] = 0x57;          // 01 01 01 11: element 64 = code 3 -> 4, elements 65..67 = 0
  const std::vector<float> y = dequant(GgmlType::kQ2_0, b, 128);
  for (int i = 0; i < 128; ++i) {
    float want = 0.0f;
    if (i == 0) want = 1.5f;
    if (i == 2) want = -1.5f;
    if (i == 3) want = -3.0f;
    if (i == 60) want = -3.0f;
    if (i == 61) want = -1.5f;
    if (i == 63) want = 1.5f;
    if (i == 64) want = 4.0f;
    EXPECT_EQ(y[i], want) << i;
  }
}

TEST(DequantizeRef, ReadsBlocksAtUnalignedAddresses) {
  // mmap'd tensors are 32-byte aligned but an 18-byte block stride is not: every other Q4_0
  // block starts at an odd-of-2 offset. Same block at offset 1 must decode the same.
  std::vector<uint8_t> b(19, 0x88);
  b[1] = 0x00;
  b[2] = 0x3C;  // d = 1 at offset 1
  b[3] = 0x89;  // element 0 = (9 - 8) * 1 = 1, element 16 = (8 - 8) * 1 = 0
  std::vector<float> y(32);
  dequantize_row_ref(GgmlType::kQ4_0, b.data() + 1, y.data(), 32);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 0.0f);
}

}  // namespace
}  // namespace gemmad::quant
