// Scaled dot-product attention of a group of query heads that share one KV head (GQA), over
// keys/values stored as runs of consecutive positions (docs/GEMMA4.md §1.3 step 4): scores
// q·k times `scale` (Gemma 4: 1.0), softmax in f32, weighted sum of v. The caller decides
// which positions are visible (causal + sliding window) by the key range of each query.
//
// Several queries (e.g. consecutive prompt rows of one sequence) can share one call: each
// block of K/V is widened to f32 once for all of them and all heads of the group, by the
// active kernel set's KV kernels (kernels/kv_rows.h), which read f16 and the quantized types
// directly: the only f32 copy is the block of 32 positions in L1, never the cache. Softmax is
// two-pass in position order (all scores, then weights, then V), and every query's arithmetic is
// the same whichever other queries share the call and however the positions are split into runs, so
// a batch and a step give bit-identical results. Scratch: n_heads x (sum of key counts) floats.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ops/attention_kv.h"

namespace gemmad::ops {

// n consecutive positions. Row r of K is at k + r * kv_row_bytes(elem, row_stride) bytes
// (likewise V); the head's values start at element kv_offset inside each row.
struct KvSegment {
  const void* k = nullptr;
  const void* v = nullptr;
  int32_t n = 0;
};

// Scratch for one thread; reused across calls.
struct AttentionScratch {
  std::vector<float> k_block, v_block, scores, acc, row_max, row_sum;
  std::vector<int64_t> score_offset;
};

struct AttentionArgs {
  const float* q = nullptr;  // [n_heads][head_dim]
  float* out = nullptr;      // [n_heads][head_dim]
  int n_heads = 1;           // query heads of the group
  int head_dim = 0;
  KvElem elem = KvElem::kF16;  // of K and V (attention_kv.h)
  int64_t row_stride = 0;      // elements per K/V row (Hkv * head_dim)
  int64_t kv_offset = 0;       // element offset of the KV head inside a row
  float k_scale = 0.0f;        // static scales of KvElem::kQ8Static
  float v_scale = 0.0f;
  float scale = 1.0f;
};

// Attends the heads of `a` over all positions of `segments`, in order. With no positions the
// output is zero.
void attend(const AttentionArgs& a, std::span<const KvSegment> segments, AttentionScratch& s);

// One query of a multi-query call: its heads, and the keys it sees as a range of indices into
// the concatenation of the call's segments.
struct AttentionQuery {
  const float* q = nullptr;  // [n_heads][head_dim]
  float* out = nullptr;      // [n_heads][head_dim]
  int64_t key_begin = 0;
  int64_t key_end = 0;
};

// Each query attends over its key range; a.q and a.out are ignored.
void attend_multi(const AttentionArgs& a, std::span<const KvSegment> segments,
                  std::span<const AttentionQuery> queries, AttentionScratch& s);

// The same arithmetic split in three phases, so that one query (a decode step) can be spread
// over threads without widening its K/V twice: keys split across threads for the scores,
// then columns of V. Each element of the result sees exactly the operations attend() does.
// Scores of keys [k0, k1) (indices into the concatenated segments) for the heads of a.q, at
// scores[h * stride + key]; each head's maximum over these keys into maxes[h].
void attention_scores(const AttentionArgs& a, std::span<const KvSegment> segments, int64_t k0,
                      int64_t k1, float* scores, int64_t stride, float* maxes, AttentionScratch& s);
// Softmax numerators in place for keys [0, n) of each head given its maximum, and their sums.
void attention_softmax(float* scores, int n_heads, int64_t n, int64_t stride, const float* maxes,
                       float* sums);
// a.out[h][c0, c1) = sum over keys of weights[h * stride + key] * v[key][c0, c1) / sums[h].
// For a blocked element type (kv_is_blocked) c0 and c1 are multiples of 32.
void attention_values(const AttentionArgs& a, std::span<const KvSegment> segments, int64_t n_keys,
                      const float* weights, int64_t stride, const float* sums, int c0, int c1,
                      AttentionScratch& s);

// The portable twins of the kernel set's score and accumulate kernels (kernels/kv_rows.h
// KvScoreFn / KvAccumulateFn): four-lane vectors, no FMA; the scalar and NEON sets use them.
void score_keys_portable(const float* q, int nh, int hd, const float* kb, int m, float scale,
                         float* sc, int64_t stride, float* maxes);
void accumulate_rows_portable(const float* p, const float* v, int nb, int n, float* acc);

// dst[0..n) = the f16 values at src, widened exactly (subnormals, inf and NaN included).
void f16_to_f32_row(const uint16_t* src, float* dst, int64_t n);
// dst[0..n) = src rounded to f16 (nearest even).
void f32_to_f16_row(const float* src, uint16_t* dst, int64_t n);

}  // namespace gemmad::ops
