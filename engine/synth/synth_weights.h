// Fill callbacks that produce a synthetic tensor's bytes in any ggml type the reference
// quantisers support, from counter-based hashes (synth_hash.h): deterministic for a seed,
// independent of fill order and thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "quant/ggml_type.h"

namespace gemmad::synth {

// Element values: uniform in [center - half_width, center + half_width), or, when `constants`
// is non-empty, exactly those values (one per element).
struct ValueSpec {
  float center = 0.0f;
  float half_width = 0.0f;
  std::vector<float> constants;
};

// Blocks in the per-tensor pool of pre-quantised blocks used for large block-quantised
// tensors (the E2B/E4B embedding tables hold 10^7 Q6_K blocks; quantising each would take
// minutes). A tensor with more than kPoolUseFactor * kPoolBlocks blocks has its rows
// assembled from pool blocks picked by hash: valid data, at memcpy speed.
constexpr uint32_t kPoolBlocks = 4096;
constexpr uint32_t kPoolUseFactor = 4;

// Returns the row fill for a 2-D tensor {n_cols, n_rows} (n_rows = 1 for vectors) of `type`
// (n_cols must be a multiple of its block size). `name` and `seed` select the hash stream; a
// row's bytes depend only on them and the row index, so any chunking gives the same file.
// Large chunks are filled by several threads.
gguf::GgufWriter::RowFillFn make_fill(const std::string& name, quant::GgmlType type,
                                      uint64_t n_cols, uint64_t n_rows, uint64_t seed,
                                      ValueSpec spec);

// True if make_fill() builds this tensor from a block pool rather than element by element.
bool uses_block_pool(quant::GgmlType type, uint64_t n_cols, uint64_t n_rows);

}  // namespace gemmad::synth
