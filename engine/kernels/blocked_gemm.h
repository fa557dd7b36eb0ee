// Many-row products through OpenBLAS sgemm, for the encoders (docs/ARCHITECTURE.md, "OpenBLAS
// for the encoders"): the vision
// tower multiplies 2520 patch rows and the audio conformer 250+ frames by every weight, where
// the few-row kernels of matmul.h (made for decode and short prefill) reach a fraction of the
// core's f32 peak. Weights are converted to f32 one tile of output rows at a time into a
// per-call scratch (2 MB per thread, freed on return), so no f32 copy of a tower is ever resident.
//
// OpenBLAS runs single-threaded inside each ThreadPool task (the pool owns the cores); its
// packing buffers stay allocated for the life of the process (a few MB per calling thread).
//
// Numerics: the function matmul() computes, summed in sgemm's order. F32/F16/BF16 weights:
// f32 products of the activations with the exactly converted weights. Weights whose matmul()
// kernels multiply Q8_0-rounded activations (Q4_0, Q8_0, Q2_0, Q4_K, Q6_K; act_q8.h) get the
// same rounding first (codes times block scale, into a per-call f32 copy of the batch), then
// f32 products with the dequantised weights: the integer kernels' exact block sums, rounded
// per term instead. The scalar twin is matmul_ref (kernels/matmul.h); blocked_gemm_test holds
// the two together.
#pragma once

#include <cstdint>

#include "kernels/matmul.h"

namespace gemmad::kernels {

class ThreadPool;

// Batches below this many rows go to matmul() unchanged: its kernels win there and its
// numerics (the text model's) stay as they were.
inline constexpr int64_t kBlockedMinRows = 32;

// Bytes of f32 weights per tile (one pool task's scratch). sgemm packs the whole batch once
// per tile, so tiles are made large (2 MB: 512 rows of a 1024-wide weight) to keep that
// packing small against the products.
inline constexpr int64_t kBlockedTileBytes = int64_t{2} << 20;

// Output rows per tile for a weight {n_in, n_out}: at most kBlockedTileBytes of f32 (but at
// least 16 rows), a multiple of 16, and a tile count that is a multiple of 4 where n_out
// allows it (so 2 or 4 threads share tiles evenly). Depends on the shape alone, so an output
// element comes from the same sgemm call whatever the thread count.
int64_t blocked_tile_rows(int64_t n_in, int64_t n_out);

// True when blocked_matmul would use sgemm for this weight and batch (else it calls matmul).
bool blocked_applies(const WeightView& w, int64_t n_tok);

// Y[t][o] = sum_i W[o][i] * X[t][i], the contract of kernels::matmul (matmul.h). Batches of
// at least kBlockedMinRows rows of a non-scaled-code weight go through sgemm; the rest
// through matmul().
void blocked_matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool);

// C[i][j] = sum_l A[i][l] * B[j][l] (b_transposed) or sum_l A[i][l] * B[l][j] (otherwise),
// for i < m, j < n, l < k; row-major with leading dimensions lda, ldb, ldc (in floats). Rows
// of A and C are split over the pool by its chunking, so a row's bits may depend on the thread
// count (callers that promise otherwise use gemm_rows_here on fixed blocks). C must not overlap
// A or B.
void gemm_rows(bool b_transposed, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc, ThreadPool& pool);

// One thread, the caller's: for use inside a ThreadPool task (the pool is not re-entrant).
void gemm_rows_here(bool b_transposed, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float* c, int64_t ldc);

}  // namespace gemmad::kernels
