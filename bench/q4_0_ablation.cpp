// Where the AVX-512 Q4_0 kernel's time goes (docs/PERFORMANCE.md): the quad loop of
// quad_dot_avx512.h timed on weights and activations that sit in L1/L2, for token tiles of 1, 4
// and 8, against ablations that drop one part of the per-token work at a time (the lane-bias
// load, then also the activation-scale load, then every float op: integer dot products only).
// The ablations compute wrong sums on purpose: they are upper bounds of what removing that
// work could give, not kernels. Best of 30 alternated passes, one thread.
//
// Usage: q4_0_ablation   (needs an AVX-512 VNNI/VBMI CPU; says so and exits 2 otherwise)
#include "kernels/immintrin_wrap.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/act_q8.h"
#include "kernels/cpu_features.h"
#include "kernels/quad_dot_avx512.h"
#include "kernels/unpack_q4_0_avx512.h"

using namespace gemmad::kernels;
namespace {
// A copy of the quad loop of quad_dot_avx512.h with parts taken out; run() uses the shipped
// loop itself for MODE 0 at the tile sizes the kernel has (1..4). MODE 0: nothing taken out;
// 1: no lane-bias load; 2: no bias and no activation-scale load; 3: dpbusd only (integer
// accumulators, no float op).
template <int T, int MODE>
void kern(const UnpackQ4_0& unpack, const uint8_t* row, const ActQ8& a, int64_t t0, float* y,
          int64_t ldy) {
  const int64_t nb = a.n_in / kQ8Block;
  const int64_t quads = nb / kQuadBlocks;
  const int8_t* qs[T];
  const float* dl[T];
  const int32_t* bias[T];
  __m512 acc0[T], acc1[T];
  __m512i ia[T];
  for (int t = 0; t < T; ++t) {
    qs[t] = a.qs + (t0 + t) * a.n_in;
    dl[t] = a.dl + (t0 + t) * nb * 4;
    bias[t] = a.bias + (t0 + t) * nb * 4;
    acc0[t] = _mm512_setzero_ps();
    acc1[t] = _mm512_setzero_ps();
    ia[t] = _mm512_setzero_si512();
  }
  auto quad = [&](int64_t g, __m512 * acc) __attribute__((always_inline)) {
    const QuadCodes c = unpack(row + g * UnpackQ4_0::kQuadBytes);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const int8_t* x = qs[t] + g * 128;
      if constexpr (MODE == 3) {
        ia[t] = _mm512_dpbusd_epi32(ia[t], c.lo, _mm512_loadu_si512(x));
        ia[t] = _mm512_dpbusd_epi32(ia[t], c.hi, _mm512_loadu_si512(x + 64));
      } else {
        __m512i p = MODE == 0 ? _mm512_loadu_si512(bias[t] + g * 16) : _mm512_setzero_si512();
        p = _mm512_dpbusd_epi32(p, c.lo, _mm512_loadu_si512(x));
        p = _mm512_dpbusd_epi32(p, c.hi, _mm512_loadu_si512(x + 64));
        const __m512 s = MODE == 2 ? c.dw : _mm512_mul_ps(c.dw, _mm512_loadu_ps(dl[t] + g * 16));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[t]);
      }
    }
  };
  int64_t g = 0;
  for (; g + 2 <= quads; g += 2) {
    quad(g, acc0);
    quad(g + 1, acc1);
  }
  for (int t = 0; t < T; ++t)
    y[(t0 + t) * ldy] =
        _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t])) + _mm512_reduce_add_epi32(ia[t]);
}
template <int T, int MODE>
void run(const uint8_t* w, uint64_t rb, int64_t rows, const ActQ8& a, float* y) {
  UnpackQ4_0 u;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t + T <= a.n_tok; t += T)
      if constexpr (MODE == 0 && T <= 4) {
        quad_row_tokens<T>(u, w + r * rb, a, t, y + r, rows);  // the shipped loop itself
      } else {
        kern<T, MODE>(u, w + r * rb, a, t, y + r, rows);
      }
}
}  // namespace
int main() {
  const CpuFeatures& f = cpu_features();
  if (!kernel_set_usable(KernelSet::kAvx512, f)) {
    std::fprintf(stderr, "q4_0_ablation: this CPU lacks the avx512 kernel set\n");
    return 2;
  }
  const int64_t n_in = 1536, rows = 64, n_tok = 8;
  const uint64_t rb = n_in / 32 * UnpackQ4_0::kBlockBytes;
  std::vector<uint8_t> w(rows * rb);
  std::mt19937 rng(1);
  for (auto& b : w)
    b = rng();
  for (int64_t i = 0; i < rows * n_in / 32; ++i) {
    w[i * UnpackQ4_0::kBlockBytes] = 0;  // fp16 scale 2^-7: finite sums
    w[i * UnpackQ4_0::kBlockBytes + 1] = 0x20;
  }
  std::vector<float> x(n_in * n_tok);
  for (auto& v : x)
    v = (rng() % 1000) / 500.0f - 1;
  ActQ8Buffer buf;
  buf.reserve(n_in, n_tok);
  for (int t = 0; t < n_tok; ++t)
    quantize_act_q8_ref(
        x.data() + t * n_in, n_in, 8, false,
        ActQ8Row{buf.qs(t), buf.d(t), buf.ds(t), buf.dl(t), buf.bias(t), buf.bias2(t)});
  ActQ8 a = buf.view();
  std::vector<float> y(rows * n_tok);
  using F = void (*)(const uint8_t*, uint64_t, int64_t, const ActQ8&, float*);
  struct V {
    const char* name;
    F f;
    int T;
  };
  V vs[] = {{"1-token tile (shipped)", run<1, 0>, 1},
            {"4-token tile (shipped)", run<4, 0>, 4},
            {"8-token tile (copy)", run<8, 0>, 8},
            {"4: no bias load", run<4, 1>, 4},
            {"4: no bias, no scale load", run<4, 2>, 4},
            {"4: dpbusd only", run<4, 3>, 4},
            {"8: no bias load", run<8, 1>, 8}};
  const int nv = sizeof vs / sizeof vs[0];
  std::vector<double> best(nv, 1e9);
  for (int rep = 0; rep < 30; ++rep)
    for (int v = 0; v < nv; ++v) {
      auto t0 = std::chrono::steady_clock::now();
      for (int k = 0; k < 50; ++k)
        vs[v].f(w.data(), rb, rows, a, y.data());
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 50;
      best[v] = std::min(best[v], s);
    }
  const double ops = 2.0 * static_cast<double>(n_in * rows * n_tok);
  std::printf("Q4_0 %lldx%lld, %lld tokens, in cache, one thread (best of 30):\n",
              static_cast<long long>(n_in), static_cast<long long>(rows),
              static_cast<long long>(n_tok));
  for (int v = 0; v < nv; ++v) {
    std::printf("  %-26s %7.1f GOP/s  %5.2fx the 1-token tile\n", vs[v].name, ops / best[v] / 1e9,
                best[0] / best[v]);
  }
}
