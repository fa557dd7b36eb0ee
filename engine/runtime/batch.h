// A batch of token rows for one forward pass (docs/GEMMA4.md §1.7). Rows may belong to
// several sequences (KV cache slots) at different positions, so the scheduler can put the
// prefill of one app and the decode steps of others through one pass over the weights.
//
// Contract checked by the forward pass (errors, not asserts): the rows of one sequence
// appear in increasing, consecutive positions, and the first of them is that sequence's
// current cache length (SequenceKv::n_pos()).
//
// Media rows (docs/GEMMA4.md §1.9): a row may carry an input embedding instead of a token's
// (an image or audio soft token, already in the text width d). Such a row's main embedding is
// that vector as is (no sqrt(d) scale) and its PLE token part uses row 0 (<pad>); `token` stays
// the placeholder id (<|image|> / <|audio|>) and is what validation checks.
#pragma once

#include <cstdint>
#include <vector>

namespace gemmad::runtime {

struct BatchRow {
  int32_t token = 0;
  int32_t pos = 0;
  int32_t seq = 0;           // KV cache slot (KvCachePool::seq)
  bool want_logits = false;  // produce this row's logits (also: run the KV-shared layers)
  // [d] floats owned by the caller, alive until forward() returns; nullptr = embed `token`.
  const float* embedding = nullptr;
};

struct Batch {
  std::vector<BatchRow> rows;

  void clear() { rows.clear(); }
  void add(int32_t token, int32_t pos, int32_t seq, bool want_logits) {
    rows.push_back(BatchRow{token, pos, seq, want_logits, nullptr});
  }
  // A row whose input is `embedding` ([d] floats); `placeholder` is the soft-token id.
  void add_embedding(int32_t placeholder, const float* embedding, int32_t pos, int32_t seq,
                     bool want_logits) {
    rows.push_back(BatchRow{placeholder, pos, seq, want_logits, embedding});
  }
  int64_t size() const { return static_cast<int64_t>(rows.size()); }
};

}  // namespace gemmad::runtime
