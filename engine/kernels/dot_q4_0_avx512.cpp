// Q4_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI), in the block order of dot_q4_0.h: each 32-bit
// lane holds one whole block of one row, so the float work (convert, scale, FMA) is done once
// per block instead of once per quarter block.
//
// Tile: 4 weight rows x one quad (4 blocks) per register, lane 4b + r = row r, block b. The
// rows' quads are unpacked (unpack_q4_0_avx512.h) and transposed at dword granularity, giving
// W_k (k = 0..3) whose lane 4b + r holds code bytes 4k..4k+3 of row r's block b: low nibbles
// elements 4k..4k+3, high nibbles 16+4k..16+4k+3. The activation vector facing W_k must hold
// token's dword k of block b in all 4 lanes of 128-bit lane b; those broadcast copies (and the
// block sum of the zero-point bias) are built once per call per token (Expanded below) and then
// read from L1/L2 by every row group, so the per-token work per tile is 8 vpdpbusd with memory
// operands, one add, one convert, one multiply and one FMA. Up to 4 tokens share each unpacked
// tile (row_tiles.h token_tiles); each token sees the same operation sequence whatever the batch
// and whichever rows share its tile (lanes never mix), so a token's output does not depend on
// its batch or on the thread split.
#include "kernels/immintrin_wrap.h"

#include <algorithm>
#include <vector>

#include "kernels/dot_q4_0.h"
#include "kernels/row_tiles.h"
#include "kernels/unpack_q4_0_avx512.h"

namespace gemmad::kernels {
namespace {

// Vectors per token and quad in the expanded activations: 8 broadcast code vectors (4 facing
// the low nibbles, 4 the high ones), then the block bias.
constexpr int kExpandedVectors = 9;

// Prefetch look-ahead per row. A plain look-ahead in each of the 4 rows would land in the next
// row of the same group when rows are short (864 bytes at n_in 1536) and leave the next group
// cold, so short rows prefetch the next group instead (unpack_tile).
constexpr int64_t kRowPrefetchBytes = 1024;

// One 64-byte vector in memory (a vector of __m512i would drop its alignment attribute).
struct alignas(64) Vec64 {
  uint8_t bytes[64];
};

// Token t's quads in the layout above, for n_tok tokens. Built per call, per thread.
class Expanded {
 public:
  void build(const ActQ8& a, int64_t quads) {
    quads_ = quads;
    v_.resize(static_cast<size_t>(std::max<int64_t>(1, a.n_tok * quads * kExpandedVectors)));
    const int64_t nb = a.n_in / kQ8Block;
    for (int64_t t = 0; t < a.n_tok; ++t) {
      const int8_t* qs = a.qs + t * a.n_in;
      const int32_t* bias = a.bias + t * nb * kLanesPerBlock;
      for (int64_t g = 0; g < quads; ++g) {
        Vec64* out = at(t, g);
        const __m512i lo = _mm512_loadu_si512(qs + g * 128);
        const __m512i hi = _mm512_loadu_si512(qs + g * 128 + 64);
        _mm512_store_si512(out + 0, _mm512_shuffle_epi32(lo, _MM_PERM_AAAA));
        _mm512_store_si512(out + 1, _mm512_shuffle_epi32(lo, _MM_PERM_BBBB));
        _mm512_store_si512(out + 2, _mm512_shuffle_epi32(lo, _MM_PERM_CCCC));
        _mm512_store_si512(out + 3, _mm512_shuffle_epi32(lo, _MM_PERM_DDDD));
        _mm512_store_si512(out + 4, _mm512_shuffle_epi32(hi, _MM_PERM_AAAA));
        _mm512_store_si512(out + 5, _mm512_shuffle_epi32(hi, _MM_PERM_BBBB));
        _mm512_store_si512(out + 6, _mm512_shuffle_epi32(hi, _MM_PERM_CCCC));
        _mm512_store_si512(out + 7, _mm512_shuffle_epi32(hi, _MM_PERM_DDDD));
        // Sum of each block's 4 lane biases, in all 4 of its lanes (exact in int32).
        __m512i b = _mm512_loadu_si512(bias + g * 16);
        b = _mm512_add_epi32(b, _mm512_shuffle_epi32(b, _MM_PERM_BADC));
        _mm512_store_si512(out + 8, _mm512_add_epi32(b, _mm512_shuffle_epi32(b, _MM_PERM_CDAB)));
      }
    }
  }
  const Vec64* at(int64_t t, int64_t g) const {
    return v_.data() + (t * quads_ + g) * kExpandedVectors;
  }
  Vec64* at(int64_t t, int64_t g) { return v_.data() + (t * quads_ + g) * kExpandedVectors; }

 private:
  int64_t quads_ = 0;
  std::vector<Vec64> v_;
};

struct Tile {
  __m512i lo[4];
  __m512i hi[4];
  __m512 dw;
};

// The 4 rows' quad g as W_k (see the top of the file) and their block scales.
inline __attribute__((always_inline)) Tile unpack_tile(const UnpackQ4_0& unpack,
                                                       const uint8_t* const rows[4],
                                                       int64_t row_bytes, int64_t g) {
  if (row_bytes <= kRowPrefetchBytes) {
    // Short rows: the next group (contiguous, 4 x row_bytes) linearly, 5 lines (320 >= 4 x 72
    // bytes) per quad, so all of it is fetched by the time this group ends.
    const uint8_t* next = rows[0] + 4 * row_bytes + g * 4 * UnpackQ4_0::kQuadBytes;
#pragma GCC unroll 5
    for (int l = 0; l < 5; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(next + 64 * l), _MM_HINT_T0);
  } else {
    // Long rows: each row 1 KiB ahead, past its end the same offset of row r of the next group
    // (3 rows further on); first and last byte of the quad there, since with 72-byte steps one
    // address per quad would skip every ninth cache line.
    const int64_t ahead = g * UnpackQ4_0::kQuadBytes + kRowPrefetchBytes;
    const int64_t skip = ahead >= row_bytes ? 3 * row_bytes : 0;
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      const uint8_t* p = rows[r] + ahead + skip;
      _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p + UnpackQ4_0::kQuadBytes - 1), _MM_HINT_T0);
    }
  }
  __m512i c[4];
  __m256i s[4];
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    const uint8_t* p = rows[r] + g * UnpackQ4_0::kQuadBytes;
    const __m512i z0 = _mm512_loadu_si512(p);
    const __m512i z1 = _mm512_maskz_loadu_epi8(0xFF, p + 64);  // bytes 64..71, no overread
    c[r] = _mm512_permutex2var_epi8(z0, unpack.code_idx, z1);
    s[r] = _mm512_castsi512_si256(_mm512_permutexvar_epi8(unpack.scale_idx, z0));
  }
  const __m512i t0 = _mm512_unpacklo_epi32(c[0], c[1]);
  const __m512i t1 = _mm512_unpackhi_epi32(c[0], c[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(c[2], c[3]);
  const __m512i t3 = _mm512_unpackhi_epi32(c[2], c[3]);
  const __m512i w[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                        _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
  Tile tile;
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    tile.lo[k] = _mm512_and_si512(w[k], unpack.nibble);
    tile.hi[k] = _mm512_and_si512(_mm512_srli_epi16(w[k], 4), unpack.nibble);
  }
  // fp16 lane 4b + r from row r (each row's vector has block b's scale in lanes 4b..4b+3).
  __m256i d = _mm256_mask_blend_epi16(0x2222, s[0], s[1]);
  d = _mm256_mask_blend_epi16(0x4444, d, s[2]);
  d = _mm256_mask_blend_epi16(0x8888, d, s[3]);
  tile.dw = _mm512_cvtph_ps(d);
  return tile;
}

// Rows rows[0..3] (n_valid of them distinct outputs, row_bytes apart) x tokens [t0, t0 + T).
template <int T>
void tile_tokens(const UnpackQ4_0& unpack, const uint8_t* const rows[4], int64_t row_bytes,
                 int n_valid, const ActQ8& a, const Expanded& x, int64_t t0, float* y,
                 int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  const float* dl[T];
  __m512 acc0[T];
  __m512 acc1[T];
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    dl[t] = a.dl + (t0 + t) * nb * kLanesPerBlock;
    acc0[t] = _mm512_setzero_ps();
    acc1[t] = _mm512_setzero_ps();
  }
  auto quad = [&](int64_t g, __m512 * acc) __attribute__((always_inline)) {
    const Tile w = unpack_tile(unpack, rows, row_bytes, g);
#pragma GCC unroll 4
    for (int t = 0; t < T; ++t) {
      const Vec64* e = x.at(t0 + t, g);
      __m512i p = _mm512_dpbusd_epi32(_mm512_load_si512(e + 8), w.lo[0], _mm512_load_si512(e));
      __m512i q = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.hi[0], _mm512_load_si512(e + 4));
      p = _mm512_dpbusd_epi32(p, w.lo[1], _mm512_load_si512(e + 1));
      q = _mm512_dpbusd_epi32(q, w.hi[1], _mm512_load_si512(e + 5));
      p = _mm512_dpbusd_epi32(p, w.lo[2], _mm512_load_si512(e + 2));
      q = _mm512_dpbusd_epi32(q, w.hi[2], _mm512_load_si512(e + 6));
      p = _mm512_dpbusd_epi32(p, w.lo[3], _mm512_load_si512(e + 3));
      q = _mm512_dpbusd_epi32(q, w.hi[3], _mm512_load_si512(e + 7));
      const __m512 s = _mm512_mul_ps(w.dw, _mm512_loadu_ps(dl[t] + g * 16));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(p, q)), s, acc[t]);
    }
  };
  int64_t g = 0;
  for (; g + 2 <= quads; g += 2) {
    quad(g, acc0);
    quad(g + 1, acc1);
  }
  if (g < quads) quad(g, acc0);
#pragma GCC unroll 4
  for (int t = 0; t < T; ++t) {
    // (b0 + b2) + (b1 + b3) per row, the order of dot_q4_0_ref.
    const __m512 s = _mm512_add_ps(acc0[t], acc1[t]);
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(s),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
    const __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    alignas(16) float sum[4];
    _mm_store_ps(sum, r4);
    for (int r = 0; r < n_valid; ++r) {
      float v = sum[r];
      if (quads * kQuadBlocks < nb) v += dot_q4_0_ref_blocks(rows[r], a, t0 + t, quads * 4, nb);
      y[(t0 + t) * ldy + r] = v;
    }
  }
}

}  // namespace

void dot_q4_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a, float* y,
                     int64_t ldy) {
  const int64_t quads = a.n_in / kQ8Block / kQuadBlocks;
  thread_local Expanded tls_x;
  Expanded& x = tls_x;
  x.build(a, quads);
  const UnpackQ4_0 unpack;
  for (int64_t r0 = 0; r0 < n_rows; r0 += 4) {
    // A last group of fewer than 4 rows repeats its last row (lanes never mix, see above).
    const int n_valid = static_cast<int>(std::min<int64_t>(4, n_rows - r0));
    const uint8_t* rows[4];
    for (int r = 0; r < 4; ++r)
      rows[r] = w + (r0 + std::min(r, n_valid - 1)) * row_bytes;
    token_tiles(a.n_tok, [&](auto tok, int64_t t0) {
      tile_tokens<tok>(unpack, rows, static_cast<int64_t>(row_bytes), n_valid, a, x, t0, y + r0,
                       ldy);
    });
  }
}

}  // namespace gemmad::kernels
