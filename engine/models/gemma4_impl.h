// Private state of Gemma4Forward, shared by gemma4.cpp (the layer steps) and
// gemma4_attention.cpp (in-flight K/V and the attention driver). Not part of the API.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "models/gemma4.h"
#include "ops/attention.h"
#include "ops/rope.h"

namespace gemmad::engine {

// Uninitialised scratch that only grows: pages are touched only as rows are used, which keeps
// resident memory to what a pass needs (E2B peak RSS target, docs/GEMMA4.md §4.1).
template <typename T>
struct Scratch {
  std::unique_ptr<T[]> p;
  size_t cap = 0;
  void ensure(size_t n) {
    if (n > cap) {
      p.reset(new T[n]);
      cap = n;
    }
  }
  T* get() { return p.get(); }
};

// One internal pass: up to max_rows_per_pass consecutive rows of the batch.
struct PassState {
  const runtime::BatchRow* rows = nullptr;
  int n = 0;
  // Rows still going through the layers (indices into rows); shrinks at F0 (§1.7).
  std::vector<int32_t> act, act_pos, act_seq;
  // In-flight K/V slot of each row: rows grouped by sequence, in position order, so a
  // sequence's in-flight keys are one contiguous run.
  std::vector<int32_t> slot;
  std::vector<int32_t> seq_ids;                              // distinct sequences, first-seen order
  std::vector<int32_t> seq_first_slot, seq_pos0, seq_count;  // indexed by sequence slot
};

struct Gemma4Forward::Impl {
  Impl(const Gemma4Config& config, const Gemma4Weights& weights, kernels::ThreadPool& p,
       ForwardOptions o);

  Status forward(const runtime::Batch& batch, runtime::KvCachePool& kv, ForwardOutput& out);
  Status validate(const runtime::Batch& batch, const runtime::KvCachePool& kv) const;
  Status run_pass(runtime::KvCachePool& kv, ForwardOutput& out, size_t& out_row);
  void embed();
  void layer(int il, runtime::KvCachePool& kv);
  void keep_rows(const std::vector<int32_t>& keep_k);
  void output_head(ForwardOutput& out, size_t& out_row);

  // gemma4_attention.cpp
  // The pool's KV layers suit this model: quantized types need head dims in blocks of 32.
  Status validate_kv_formats(const runtime::KvCachePool& kv) const;
  void plan_inflight(const runtime::KvCachePool& kv);
  void store_inflight(int kv_layer, const float* k, const float* v);
  void attention(int il, const runtime::KvCachePool& kv);
  // One row and KV head with keys, then value columns, spread over the pool (decode).
  void attend_split(int il, const runtime::KvCachePool& kv, int64_t kk, int64_t j);
  ops::AttentionArgs attention_args(int il, int64_t j) const;  // KV head j of layer il
  Status commit_inflight(runtime::KvCachePool& kv);

  // y[rows][n_out] = lin(x[rows][n_in]) including the `.scale` companion.
  void matmul(const Linear& lin, const float* x, int64_t rows, float* y);
  void tap(std::string_view name, int layer, const float* data, int64_t n_cols);
  int64_t n_act() const { return static_cast<int64_t>(pass.act.size()); }
  // Bytes of one K (or V) row of cache layer l in this pass's format.
  int64_t row_bytes(int l) const { return ops::kv_row_bytes(kv_fmt[l].elem, kv_specs[l].kv_dim); }

  const Gemma4Config& c;
  const Gemma4Weights& w;
  kernels::ThreadPool& pool;
  ForwardOptions opt;
  runtime::TapFn tap_fn;

  ops::RopeTable rope_swa, rope_full;
  std::vector<runtime::KvLayerSpec> kv_specs;
  std::vector<int> kv_of_layer;  // cache layer each layer reads (its KV source, §1.6)
  int64_t d = 0, q_max = 0, kv_max = 0, ff_max = 0, n_ple = 0;  // widths

  PassState pass;
  Scratch<float> x, h, a, q, k, v, attn, o, gate, up, ple_tok, ple, g;
  Scratch<float> cos_swa, sin_swa, cos_full, sin_full;         // [n][active pairs] per row
  std::vector<runtime::KvLayerFormat> kv_fmt;                  // per cache layer, of this pass
  std::vector<Scratch<uint8_t>> inflight_k, inflight_v;        // per cache layer [slot][row]
  std::vector<ops::AttentionScratch> attn_scratch;             // per pool thread
  std::vector<std::vector<ops::KvSegment>> attn_segs;          // per pool thread
  std::vector<std::vector<ops::AttentionQuery>> attn_queries;  // per pool thread
  // Attention tiles of the current layer: rows tile_rows[begin, begin + count) (indices into
  // the active rows) of sequence `seq`, the first at position first_pos.
  struct Tile {
    int32_t seq;
    int32_t begin;
    int32_t count;
    int32_t first_pos;
  };
  std::vector<Tile> tiles;
  Scratch<float> split_scores;                // attend_split: [group][keys]
  std::vector<float> split_max, split_local;  // attend_split: [thread][head] maxima
  std::vector<float> split_sum;               // attend_split: [head]
  std::vector<int32_t> tile_rows;
};

}  // namespace gemmad::engine
