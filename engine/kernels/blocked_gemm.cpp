// blocked_matmul / gemm_rows: dequantise a tile of weight rows, then one sgemm per tile.
#include "kernels/blocked_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/fp16.h"
#include "kernels/act_q8.h"
#include "kernels/cpu_features.h"
#include "kernels/kernel_table.h"
#include "kernels/thread_pool.h"
#include "ops/vec4.h"
#include "quant/scaled_codes.h"

namespace gemmad::kernels {
namespace {

// Rows of A per pool task in gemm_rows: enough for sgemm's register blocking to pay.
constexpr int64_t kRowGrain = 64;

// The pool provides the parallelism; an OpenBLAS thread team on top would oversubscribe the
// cores (and spin against the pool's workers). Set once, before the first sgemm.
void single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

int blas_int(int64_t v) {
  return static_cast<int>(v);
}

// matmul() multiplies these weights by activations rounded to Q8_0 blocks (integer kernels).
bool rounds_activations(quant::GgmlType type) {
  const TypeKernel* k = find_kernel(kernel_table(active_kernel_set()), type);
  return k != nullptr && k->qdot != nullptr;
}

// One weight row to f32. F16 and BF16 (most towers) four lanes at a time, exactly (the
// conversion is at the baseline ISA, so every build converts alike); the rest by the reference.
void weight_row_to_f32(const WeightView& w, int64_t row, float* dst) {
  const uint8_t* src = w.data + static_cast<uint64_t>(row) * w.row_bytes;
  const int64_t n = w.n_in;
  // Halves are read through memcpy: mapped rows need not be 2-byte aligned.
  if (w.type == quant::GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
    }
    return;
  }
  if (w.type == quant::GgmlType::kF16) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      uint16_t h[4];
      std::memcpy(h, src + 2 * i, sizeof h);
      ops::vec::store(dst + i, ops::vec::f16_to_f32(h));
    }
    for (; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = fp16_to_fp32(h);
    }
    return;
  }
  dequantize_weight_row(w, row, dst);
}

// dst = the values matmul()'s integer kernels multiply for x: each block of 32 quantised as
// act_q8.h says (the same scales and round-half-even codes), times its stored scale.
void round_to_q8_blocks(const float* x, int64_t n, float* dst) {
  for (int64_t b = 0; b + kQ8Block <= n; b += kQ8Block) {
    float amax = 0.0f;
    for (int i = 0; i < kQ8Block; ++i)
      amax = std::fmax(amax, std::fabs(x[b + i]));
    float d = 0.0f, inv = 0.0f;
    act_q8_block_scales(amax, &d, &inv);
    for (int i = 0; i < kQ8Block; ++i) {
      const float v = std::fmin(std::fmax(x[b + i] * inv, -127.0f), 127.0f);
      dst[b + i] = std::nearbyint(v) * d;
    }
  }
}

}  // namespace

int64_t blocked_tile_rows(int64_t n_in, int64_t n_out) {
  auto round16 = [](int64_t v) { return (v + 15) / 16 * 16; };
  const int64_t max_rows =
      std::max<int64_t>(16, kBlockedTileBytes / (4 * std::max<int64_t>(n_in, 1)) / 16 * 16);
  int64_t n_tiles = (n_out + max_rows - 1) / max_rows;
  n_tiles = std::min((n_tiles + 3) / 4 * 4, std::max<int64_t>(1, (n_out + 15) / 16));
  return std::max<int64_t>(16, round16((n_out + n_tiles - 1) / n_tiles));
}

bool blocked_applies(const WeightView& w, int64_t n_tok) {
  return n_tok >= kBlockedMinRows && !quant::is_scaled_codes(w.type);
}

void gemm_rows_here(bool b_transposed, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  single_threaded_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans, blas_int(m),
              blas_int(n), blas_int(k), 1.0f, a, blas_int(lda), b, blas_int(ldb), 0.0f, c,
              blas_int(ldc));
}

void gemm_rows(bool b_transposed, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc, ThreadPool& pool) {
  single_threaded_blas();
  pool.parallel_for(m, kRowGrain, [&](int64_t begin, int64_t end, int) {
    gemm_rows_here(b_transposed, end - begin, n, k, a + begin * lda, lda, b, ldb, c + begin * ldc,
                   ldc);
  });
}

void blocked_matmul(const WeightView& w, const float* x, int64_t n_tok, float* y,
                    ThreadPool& pool) {
  if (!blocked_applies(w, n_tok)) {
    matmul(w, x, n_tok, y, pool);
    return;
  }
  if (w.n_out <= 0) return;
  // Each task converts one tile of output rows into its thread's slot and multiplies every
  // token by it: the weights are read (and converted) once per call, whatever n_tok. F32 rows
  // are read in place. Tiles are fixed by n_out alone, so every output element comes from the
  // same sgemm call whatever the thread count.
  single_threaded_blas();
  std::vector<float> rounded;
  if (rounds_activations(w.type) && w.n_in % kQ8Block == 0) {
    rounded.resize(static_cast<size_t>(n_tok * w.n_in));
    pool.parallel_for(n_tok, 16, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t)
        round_to_q8_blocks(x + t * w.n_in, w.n_in, rounded.data() + t * w.n_in);
    });
    x = rounded.data();
  }
  const int64_t tile = blocked_tile_rows(w.n_in, w.n_out);
  const int64_t n_tiles = (w.n_out + tile - 1) / tile;
  const bool in_place = w.type == quant::GgmlType::kF32 && w.row_bytes % sizeof(float) == 0;
  std::vector<float> scratch(in_place ? 0 : static_cast<size_t>(pool.size()) * tile * w.n_in);
  pool.parallel_for(n_tiles, 1, [&](int64_t begin, int64_t end, int thread) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t o0 = t * tile, rows = std::min(tile, w.n_out - o0);
      const float* wt = nullptr;
      int64_t ldw = w.n_in;
      if (in_place) {
        wt = reinterpret_cast<const float*>(w.data + o0 * w.row_bytes);
        ldw = static_cast<int64_t>(w.row_bytes / sizeof(float));
      } else {
        float* slot = scratch.data() + static_cast<size_t>(thread) * tile * w.n_in;
        for (int64_t r = 0; r < rows; ++r)
          weight_row_to_f32(w, o0 + r, slot + r * w.n_in);
        wt = slot;
      }
      gemm_rows_here(true, n_tok, rows, w.n_in, x, w.n_in, wt, ldw, y + o0, w.n_out);
    }
  });
}

}  // namespace gemmad::kernels
