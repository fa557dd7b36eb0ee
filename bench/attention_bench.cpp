// attention_bench [positions] [reps]: what decode attention costs at a context, per KV type,
// without a prefill: one query row of E2B's shape (8 query heads on 1 KV head) attends over
// `positions` keys of a full layer (head dim 512) and over a 512-position sliding window
// (head dim 256), single-threaded, with the active kernel set. Prints ms per layer and the
// ms per decoded token E2B adds at that context: 7 full-attention layers (3 owning + 4
// KV-shared) and 28 sliding ones (12 + 16), against the same at context 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "ops/attention.h"

namespace {

using Clock = std::chrono::steady_clock;
using gemmad::ops::KvElem;

// Best-of-reps ms of one attend() over n positions of head dim hd stored as `elem`.
double attend_ms(KvElem elem, int hd, int n, int reps) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t rb = gemmad::ops::kv_row_bytes(elem, hd);
  std::vector<uint8_t> k(static_cast<size_t>(rb * n)), v(k.size());
  std::vector<float> row(static_cast<size_t>(hd));
  for (int p = 0; p < n; ++p) {
    for (auto* buf : {&k, &v}) {
      for (float& x : row)
        x = g(rng);
      gemmad::ops::quantize_kv_row(elem, 0.03f, row.data(), buf->data() + p * rb, hd);
    }
  }
  std::vector<float> q(static_cast<size_t>(8 * hd)), out(q.size());
  for (float& x : q)
    x = g(rng) * 0.05f;
  gemmad::ops::AttentionArgs a;
  a.q = q.data();
  a.out = out.data();
  a.n_heads = 8;
  a.head_dim = hd;
  a.elem = elem;
  a.row_stride = hd;
  a.k_scale = a.v_scale = 0.03f;
  const gemmad::ops::KvSegment seg{k.data(), v.data(), n};
  gemmad::ops::AttentionScratch s;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    gemmad::ops::attend(a, {&seg, 1}, s);
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 4096;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 20;
  if (!gemmad::kernels::init_kernels().ok()) return 1;
  std::printf("kernels %s, context %d, best of %d, one thread\n",
              gemmad::kernels::kernel_set_name(gemmad::kernels::active_kernel_set()), n, reps);
  std::printf("%-10s %12s %14s %18s\n", "type", "full ms", "sliding ms", "E2B ms/token");
  struct T {
    const char* name;
    KvElem full, sliding;
  };
  for (const T& t : {T{"f32", KvElem::kF32, KvElem::kF32}, T{"f16", KvElem::kF16, KvElem::kF16},
                     T{"q8", KvElem::kQ8, KvElem::kQ8}, T{"q4", KvElem::kQ4, KvElem::kQ4},
                     T{"mobile", KvElem::kQ4, KvElem::kQ8},
                     T{"q8static", KvElem::kQ8Static, KvElem::kQ8Static}}) {
    const double full = attend_ms(t.full, 512, n, reps);
    const double sliding = attend_ms(t.sliding, 256, std::min(n, 512), reps);
    const double at1 =
        7 * attend_ms(t.full, 512, 1, reps) + 28 * attend_ms(t.sliding, 256, 1, reps);
    std::printf("%-10s %12.3f %14.3f %18.2f\n", t.name, full, sliding,
                7 * full + 28 * sliding - at1);
  }
  return 0;
}
