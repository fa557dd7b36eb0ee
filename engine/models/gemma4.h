// The Gemma 4 text forward pass (docs/GEMMA4.md §1): one function for a batch of token rows
// that may mix sequences and positions, so batched prefill and single-token decode share one
// code path. The rows of a batch go through every matmul together (one pass over the weights
// per layer). Steps follow §1.3 exactly; each named intermediate goes to the tap, if any.
//
// Prefill shortcut (§1.7): KV-shared layers (>= F0) write no cache, so rows that want no
// logits stop after layer F0 - 1 (E2B: ~3x less work per prompt token).
//
// Taps (runtime/tap.h), in order; [rows][cols] f32, rows = the rows still active:
//   layer -1: inp_embd [d], ple_tok [L*p], ple_proj [L*p] (after 1/sqrt(d)), ple_proj_norm,
//             ple_inp (combined PLE)
//   per layer: attn_norm, q, q_norm, q_rope, k, v, k_norm, k_rope, v_norm (KV-owning layers
//             only), kqv_out [H*hd], attn_out, attn_post_norm, attn_resid, ffn_norm, ffn_gate,
//             ffn_up, ffn_geglu, ffn_out, ffn_post_norm, ffn_resid, ple_gate [p],
//             ple_proj_out, ple_post_norm, ple_resid, l_out (after layer_output_scale)
//   layer -1: result_norm [d], result_output [V] (soft-capped logits)
// KV-shared layers (>= F0) and the head only see the rows that want logits when the prefill
// shortcut is on (the default).
//
// Threading: a Gemma4Forward owns scratch buffers and is used by one thread at a time; it
// runs its kernels on the given pool. The config and weights are shared read-only, so any
// number of Gemma4Forward objects may run on one model.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "kernels/thread_pool.h"
#include "models/gemma4_config.h"
#include "models/gemma4_weights.h"
#include "runtime/batch.h"
#include "runtime/kv_cache.h"
#include "runtime/tap.h"

namespace gemmad::engine {

// The KV cache layout of a model: one entry per KV-owning layer (layers 0 .. F0-1).
std::vector<runtime::KvLayerSpec> gemma4_kv_layers(const Gemma4Config& c);

struct ForwardOptions {
  bool prefill_shortcut = true;  // §1.7; off = run every layer for every row
  // Rows per internal pass; longer batches are split (bounds scratch memory). Each pass
  // still reads each weight matrix once for all its rows.
  int max_rows_per_pass = 256;
};

struct ForwardOutput {
  int64_t n_vocab = 0;
  std::vector<int32_t> rows;  // batch row index of each logits row, in batch order
  std::vector<float> logits;  // [rows.size()][n_vocab], soft-capped
  const float* row_logits(size_t i) const { return logits.data() + i * n_vocab; }
};

class Gemma4Forward {
 public:
  // If the environment variable GEMMAD_TAP names a directory, every intermediate is dumped
  // there (runtime::make_dir_tap).
  Gemma4Forward(const Gemma4Config& config, const Gemma4Weights& weights, kernels::ThreadPool& pool,
                ForwardOptions opts = {});
  ~Gemma4Forward();
  Gemma4Forward(const Gemma4Forward&) = delete;
  Gemma4Forward& operator=(const Gemma4Forward&) = delete;

  // Runs `batch`, appends every row's K/V to its sequence's cache in `kv`, and fills `out`
  // with the logits of the rows that want them. The batch is validated first (token ids,
  // sequence slots, positions consecutive from each sequence's n_pos(), context limit); an
  // invalid batch changes nothing.
  Status forward(const runtime::Batch& batch, runtime::KvCachePool& kv, ForwardOutput& out);

  void set_tap(runtime::TapFn tap);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemmad::engine
