// Synthetic tensor bytes: hashed uniform values quantised row by row, or rows assembled from
// a pool of pre-quantised blocks for very large block-quantised tensors.
#include "synth/synth_weights.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>

#include "synth/synth_hash.h"

namespace gemmad::synth {
namespace {

// Below this many elements a tensor is filled on the calling thread.
constexpr uint64_t kParallelMinElems = 1u << 20;

// Salts separating the hash streams of one tensor.
constexpr uint64_t kSaltValues = 0;
constexpr uint64_t kSaltPool = 1;
constexpr uint64_t kSaltPick = 2;

unsigned worker_count(uint64_t n_elems) {
  if (n_elems < kParallelMinElems) return 1;
  const unsigned hw = std::thread::hardware_concurrency();
  return std::clamp(hw, 1u, 8u);
}

// Runs body(row_begin, row_end) over [0, n_rows) split in contiguous chunks, one per worker.
template <typename Body>
void for_rows(uint64_t n_rows, unsigned n_workers, const Body& body) {
  if (n_workers <= 1 || n_rows < 2) {
    body(uint64_t{0}, n_rows);
    return;
  }
  std::vector<std::thread> threads;
  const uint64_t chunk = (n_rows + n_workers - 1) / n_workers;
  for (unsigned w = 0; w < n_workers; ++w) {
    const uint64_t b = std::min<uint64_t>(n_rows, w * chunk);
    const uint64_t e = std::min<uint64_t>(n_rows, b + chunk);
    if (b >= e) break;
    threads.emplace_back([&body, b, e] { body(b, e); });
  }
  for (std::thread& t : threads)
    t.join();
}

// Rows [r_begin, r_end) into `out` (which holds exactly those rows).
void fill_values(const std::string& name, quant::GgmlType type, uint64_t n_cols, uint64_t r_begin,
                 uint64_t r_end, uint64_t seed, const ValueSpec& spec, std::span<uint8_t> out) {
  const uint64_t n_rows = r_end - r_begin;
  const uint64_t row_bytes = out.size() / n_rows;
  const uint64_t key = stream_key(seed, name, kSaltValues);
  for_rows(n_rows, worker_count(n_cols * n_rows), [&](uint64_t r0, uint64_t r1) {
    std::vector<float> row(n_cols);
    for (uint64_t r = r0; r < r1; ++r) {
      const uint64_t base = (r_begin + r) * n_cols;
      if (!spec.constants.empty()) {
        for (uint64_t c = 0; c < n_cols; ++c)
          row[c] = spec.constants[base + c];
      } else {
        for (uint64_t c = 0; c < n_cols; ++c) {
          row[c] = spec.center + spec.half_width * stream_unit(key, base + c);
        }
      }
      quant::quantize_row_ref(type, row.data(), out.data() + r * row_bytes,
                              static_cast<int64_t>(n_cols));
    }
  });
}

// kPoolBlocks blocks quantised from hashed values (same distribution as spec).
std::vector<uint8_t> make_pool(const std::string& name, quant::GgmlType type, uint64_t seed,
                               const ValueSpec& spec) {
  const quant::TypeTraits& tt = quant::traits(type);
  std::vector<uint8_t> pool(kPoolBlocks * tt.block_bytes);
  const uint64_t pool_key = stream_key(seed, name, kSaltPool);
  std::vector<float> vals(tt.block_elems);
  for (uint64_t b = 0; b < kPoolBlocks; ++b) {
    for (uint64_t i = 0; i < tt.block_elems; ++i) {
      vals[i] = spec.center + spec.half_width * stream_unit(pool_key, b * tt.block_elems + i);
    }
    quant::quantize_row_ref(type, vals.data(), pool.data() + b * tt.block_bytes,
                            static_cast<int64_t>(tt.block_elems));
  }
  return pool;
}

void fill_from_pool(const std::string& name, quant::GgmlType type, uint64_t n_cols,
                    uint64_t r_begin, uint64_t r_end, uint64_t seed,
                    const std::vector<uint8_t>& pool, std::span<uint8_t> out) {
  const quant::TypeTraits& tt = quant::traits(type);
  const uint64_t block_bytes = tt.block_bytes;
  const uint64_t blocks_per_row = n_cols / tt.block_elems;
  const uint64_t pick_key = stream_key(seed, name, kSaltPick);
  const uint64_t n_rows = r_end - r_begin;
  for_rows(n_rows, worker_count(n_cols * n_rows), [&](uint64_t r0, uint64_t r1) {
    for (uint64_t r = r0; r < r1; ++r) {
      uint8_t* dst = out.data() + r * blocks_per_row * block_bytes;
      const uint64_t first_block = (r_begin + r) * blocks_per_row;
      for (uint64_t b = 0; b < blocks_per_row; ++b) {
        const uint64_t pick = stream_u64(pick_key, first_block + b) % kPoolBlocks;
        std::memcpy(dst + b * block_bytes, pool.data() + pick * block_bytes, block_bytes);
      }
    }
  });
}

}  // namespace

bool uses_block_pool(quant::GgmlType type, uint64_t n_cols, uint64_t n_rows) {
  const quant::TypeTraits& tt = quant::traits(type);
  if (tt.block_elems <= 1) return false;
  const uint64_t n_blocks = n_cols / tt.block_elems * n_rows;
  return n_blocks > uint64_t{kPoolUseFactor} * kPoolBlocks;
}

gguf::GgufWriter::RowFillFn make_fill(const std::string& name, quant::GgmlType type,
                                      uint64_t n_cols, uint64_t n_rows, uint64_t seed,
                                      ValueSpec spec) {
  // The pool is built on the first chunk and shared by the rest (the writer copies nothing:
  // std::function copies share it).
  std::shared_ptr<std::vector<uint8_t>> pool;
  if (spec.constants.empty() && uses_block_pool(type, n_cols, n_rows)) {
    pool = std::make_shared<std::vector<uint8_t>>();
  }
  return [name, type, n_cols, seed, spec = std::move(spec), pool](uint64_t r_begin, uint64_t r_end,
                                                                  std::span<uint8_t> out) {
    if (pool) {
      if (pool->empty()) *pool = make_pool(name, type, seed, spec);
      fill_from_pool(name, type, n_cols, r_begin, r_end, seed, *pool, out);
    } else {
      fill_values(name, type, n_cols, r_begin, r_end, seed, spec, out);
    }
  };
}

}  // namespace gemmad::synth
