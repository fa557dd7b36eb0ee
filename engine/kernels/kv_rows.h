// KV cache rows widened to f32 for attention: F16 and the quantized KV layouts
// (docs/KV_CACHE.md), a scalar reference and one file per instruction set.
//
// Quantized layouts, in blocks of kKvBlock = 32 elements of one row:
//   q8  (34 bytes): fp16 scale d, then 32 int8 codes; x = d * q.
//   q4  (18 bytes): fp16 scale d, then 16 bytes; byte j holds element j in its low nibble and
//                   element j + 16 in its high nibble, as code q + 8 (q in [-7, 7]); x = d * q.
//   q8s (32 bytes): 32 int8 codes and no scale; x = s * q with the layer's static scale s.
// Widening is exact for f16, q8 and q4 (an fp16 scale times a code of at most 8 bits fits an
// f32 mantissa); q8s is one f32 multiply per element. Every set gives bit-identical results.
#pragma once

#include <cstdint>

namespace gemmad::kernels {

inline constexpr int kKvBlock = 32;
inline constexpr int kKvQ8BlockBytes = 2 + 32;
inline constexpr int kKvQ4BlockBytes = 2 + 16;

// dst[0..n) = the n elements at src. For q8 / q4 / q8s, n is a multiple of kKvBlock and src
// the start of a block; `scale` is used by q8s only.
using KvWidenFn = void (*)(const uint8_t* src, int64_t n, float scale, float* dst);

// The dots of attention over widened blocks (ops/attention.cpp has the portable twins, which
// the scalar and NEON sets use): sc[h * stride + b] = scale * q_h . k_b for the nh heads of q
// and the m rows of kb (hd floats each), with each head's running maximum in maxes[h]; and
// acc[0..n) += sum over rows b < nb, in order, of p[b] * v[b][0..n). A key's score and a
// column's sum are computed by the same operations whatever m, nb and n are, so batch and
// step runs stay bit-identical within a set.
using KvScoreFn = void (*)(const float* q, int nh, int hd, const float* kb, int m, float scale,
                           float* sc, int64_t stride, float* maxes);
using KvAccumulateFn = void (*)(const float* p, const float* v, int nb, int n, float* acc);

struct KvKernels {
  KvWidenFn f16 = nullptr;
  KvWidenFn q8 = nullptr;
  KvWidenFn q4 = nullptr;
  KvWidenFn q8s = nullptr;
  KvScoreFn score = nullptr;            // nullptr: the portable twin in ops/attention.cpp
  KvAccumulateFn accumulate = nullptr;  // likewise
};

#define GEMMAD_DECLARE_KV_WIDEN(isa)                                         \
  void widen_kv_f16_##isa(const uint8_t* src, int64_t n, float, float* dst); \
  void widen_kv_q8_##isa(const uint8_t* src, int64_t n, float, float* dst);  \
  void widen_kv_q4_##isa(const uint8_t* src, int64_t n, float, float* dst);  \
  void widen_kv_q8s_##isa(const uint8_t* src, int64_t n, float scale, float* dst)

GEMMAD_DECLARE_KV_WIDEN(ref);
GEMMAD_DECLARE_KV_WIDEN(avx2);
GEMMAD_DECLARE_KV_WIDEN(avx512);
GEMMAD_DECLARE_KV_WIDEN(neon);

#undef GEMMAD_DECLARE_KV_WIDEN

void kv_score_avx2(const float* q, int nh, int hd, const float* kb, int m, float scale, float* sc,
                   int64_t stride, float* maxes);
void kv_accumulate_avx2(const float* p, const float* v, int nb, int n, float* acc);
void kv_score_avx512(const float* q, int nh, int hd, const float* kb, int m, float scale, float* sc,
                     int64_t stride, float* maxes);
void kv_accumulate_avx512(const float* p, const float* v, int nb, int n, float* acc);

}  // namespace gemmad::kernels
