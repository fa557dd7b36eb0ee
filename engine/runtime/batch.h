// A batch of token rows for one forward pass (docs/GEMMA4.md §1.7). Rows may belong to
// several sequences (KV cache slots) at different positions, so the scheduler can put the
// prefill of one app and the decode steps of others through one pass over the weights.
//
// Contract checked by the forward pass (errors, not asserts): the rows of one sequence
// appear in increasing, consecutive positions, and the first of them is that sequence's
// current cache length (SequenceKv::n_pos()).
#pragma once

#include <cstdint>
#include <vector>

namespace gemmad::runtime {

struct BatchRow {
  int32_t token = 0;
  int32_t pos = 0;
  int32_t seq = 0;           // KV cache slot (KvCachePool::seq)
  bool want_logits = false;  // produce this row's logits (also: run the KV-shared layers)
};

struct Batch {
  std::vector<BatchRow> rows;

  void clear() { rows.clear(); }
  void add(int32_t token, int32_t pos, int32_t seq, bool want_logits) {
    rows.push_back(BatchRow{token, pos, seq, want_logits});
  }
  int64_t size() const { return static_cast<int64_t>(rows.size()); }
};

}  // namespace gemmad::runtime
