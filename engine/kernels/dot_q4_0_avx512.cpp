// Q4_0 x Q8_0 dot, AVX-512 (F/BW/VL/VNNI/VBMI): dpbusd of unsigned nibbles x signed codes, the
// -8 zero point folded in through ActQ8::bias (dot_q4_0.h), per-lane f32 accumulation.
//
// Work unit: a quad of 4 blocks (72 bytes). One vpermt2b gathers the 4 x 16 code bytes, whose
// low / high nibbles line up with the quad's first / second halves in ActQ8::qs; one vpermb
// spreads the 4 fp16 scales over the lanes. Up to 4 tokens share each unpacked quad, so a row
// is read from memory once per call. Tail blocks (n % 4) use the reference.
#include <immintrin.h>

#include "kernels/dot_q4_0.h"

namespace gemmad::kernels {
namespace {

constexpr int kBlockBytes = 18;
constexpr int kQuadBytes = 4 * kBlockBytes;
constexpr int kMaxTok = 4;

struct QuadConsts {
  __m512i code_idx;   // byte o of the code vector <- 18 * (o / 16) + 2 + o % 16
  __m512i scale_idx;  // fp16 lane h <- bytes 18 * (h / 4), +1
  __m512i nibble;
};

inline QuadConsts quad_consts() {
  alignas(64) uint8_t code[64];
  alignas(64) uint8_t scale[64];
  for (int o = 0; o < 64; ++o) {
    code[o] = static_cast<uint8_t>(kBlockBytes * (o / 16) + 2 + o % 16);
    const int h = (o / 2) % 16;
    scale[o] = static_cast<uint8_t>(kBlockBytes * (h / 4) + o % 2);
  }
  return {_mm512_load_si512(code), _mm512_load_si512(scale), _mm512_set1_epi8(0x0F)};
}

template <int T>
void row_tokens(const QuadConsts& c, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
                int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / 4;
  const int8_t* qs[T];
  const float* dl[T];
  const int32_t* bias[T];
  __m512 acc[T][2];
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nb * kLanesPerBlock;
    bias[t] = a.bias + (t0 + t) * nb * kLanesPerBlock;
    acc[t][0] = _mm512_setzero_ps();
    acc[t][1] = _mm512_setzero_ps();
  }
  // Two accumulators per token (even / odd quads) hide the FMA latency.
  auto quad = [&](int64_t g, int k) {
    const uint8_t* p = row + g * kQuadBytes;
    const __m512i z0 = _mm512_loadu_si512(p);
    const __m512i z1 = _mm512_maskz_loadu_epi8(0xFF, p + 64);  // bytes 64..71, no overread
    const __m512i codes = _mm512_permutex2var_epi8(z0, c.code_idx, z1);
    const __m512i lo = _mm512_and_si512(codes, c.nibble);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(codes, 4), c.nibble);
    const __m512 dw =
        _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(c.scale_idx, z0)));
    for (int t = 0; t < T; ++t) {
      const int8_t* x = qs[t] + g * 128;
      __m512i p32 = _mm512_loadu_si512(bias[t] + g * 16);
      p32 = _mm512_dpbusd_epi32(p32, lo, _mm512_loadu_si512(x));
      p32 = _mm512_dpbusd_epi32(p32, hi, _mm512_loadu_si512(x + 64));
      const __m512 s = _mm512_mul_ps(dw, _mm512_loadu_ps(dl[t] + g * 16));
      acc[t][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p32), s, acc[t][k]);
    }
  };
  int64_t g = 0;
  for (; g + 2 <= quads; g += 2) {
    quad(g, 0);
    quad(g + 1, 1);
  }
  if (g < quads) quad(g, 0);
  for (int t = 0; t < T; ++t) {
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc[t][0], acc[t][1]));
    if (quads * 4 < nb) sum += dot_q4_0_ref_blocks(row, a, t0 + t, quads * 4, nb);
    y[(t0 + t) * ldy] = sum;
  }
}

}  // namespace

void dot_q4_0_avx512(const uint8_t* w, uint64_t row_bytes, int64_t n_rows, const ActQ8& a,
                     float* y, int64_t ldy) {
  const QuadConsts c = quad_consts();
  for (int64_t r = 0; r < n_rows; ++r) {
    const uint8_t* row = w + r * row_bytes;
    int64_t t = 0;
    for (; t + kMaxTok <= a.n_tok; t += kMaxTok) row_tokens<kMaxTok>(c, row, a, t, y + r, ldy);
    switch (a.n_tok - t) {
      case 3:
        row_tokens<3>(c, row, a, t, y + r, ldy);
        break;
      case 2:
        row_tokens<2>(c, row, a, t, y + r, ldy);
        break;
      case 1:
        row_tokens<1>(c, row, a, t, y + r, ldy);
        break;
      default:
        break;
    }
  }
}

}  // namespace gemmad::kernels
