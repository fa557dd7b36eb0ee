// A SequenceKv as bytes and back (docs/KV_CACHE.md "Saved KV"): the layer table and the rows
// each storing layer holds, in the cache's own element layout, so saving and restoring is a
// copy, never a re-quantization. Sliding layers keep only their window.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "runtime/kv_cache.h"

namespace gemmad::runtime {

// The lowest position a snapshot keeps for the sliding layers: the window below n_pos (what
// the next position attends to, plus one position to roll back), or what the ring still holds.
int32_t snapshot_sliding_from(const SequenceKv& seq);

// Bytes kv_snapshot_append would add for `seq`.
uint64_t kv_snapshot_bytes(const SequenceKv& seq);

// Appends the snapshot of `seq` (n_pos > 0) to `out`.
void kv_snapshot_append(const SequenceKv& seq, std::vector<uint8_t>& out);

// Restores `seq` from a snapshot made of a cache with the same layers and formats. Anything
// that does not match (layer count, sliding flag, element type, row width, static scales,
// position ranges, byte counts) is a kInvalidArgument naming the layer, the field and both
// values, and leaves `seq` cleared.
Status kv_snapshot_restore(SequenceKv& seq, std::span<const uint8_t> bytes);

}  // namespace gemmad::runtime
