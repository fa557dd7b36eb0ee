// Per-sequence key/value cache and the pool of sequence slots (docs/GEMMA4.md §1.5-1.7, §4.1).
//
// Only KV-owning layers store (KV-shared layers read their source layer's cache). A sliding
// layer keeps a ring of `window` positions (or a larger configured capacity, which lets a
// sequence roll back a few tokens); a full layer grows in chunks of kChunkPositions up to the
// configured context, so memory is bounded by the config and allocated only as used.
// Elements are f16 (default), f32, or quantized (q8 / q4 / static q8), chosen per layer type
// (kv_cache_type.h); rows are stored in that layout (ops/attention_kv.h) and never widened
// here. The cache knows nothing of Gemma: it stores rows of kv_dim elements per layer and
// position.
//
// Thread safety: a SequenceKv is used by one forward pass at a time; const methods may be
// called concurrently while no writer runs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "ops/attention.h"
#include "runtime/kv_cache_type.h"

namespace gemmad::runtime {

// The element type and static scales one storing layer uses under the types `t`: q8 becomes
// static int8 (kQ8Static) where the layer has both static scales (kv_cache_type.h).
struct KvLayerFormat {
  ops::KvElem elem = ops::KvElem::kF16;
  float k_scale = 0.0f, v_scale = 0.0f;  // kQ8Static only
};

// One storing layer.
struct KvLayerSpec {
  bool sliding = false;
  uint32_t kv_dim = 0;  // elements per position of K (and of V): Hkv * head_dim
  // The file's calibrated static KV scales of this layer (0 = uncalibrated: dynamic scales).
  float k_scale = 0.0f, v_scale = 0.0f;
};

KvLayerFormat kv_layer_format(const KvLayerSpec& layer, KvTypes types);

struct KvCacheOptions {
  uint32_t n_ctx = 4096;  // positions per sequence (full layers grow up to this)
  KvTypes type;           // per layer type; f16 by default
  uint32_t n_seq = 1;     // sequence slots in a pool
  // Positions a sliding ring holds; 0 = the window. More lets truncate() roll back up to
  // (capacity - window) positions without losing the window.
  uint32_t swa_capacity = 0;
};

// K/V rows of one storing layer for an append: n rows of kv_dim elements each, in the
// cache's element type, contiguous.
struct KvRows {
  const void* k = nullptr;
  const void* v = nullptr;
};

class SequenceKv {
 public:
  static constexpr int32_t kChunkPositions = 256;

  SequenceKv(std::span<const KvLayerSpec> layers, uint32_t window, const KvCacheOptions& opts);
  SequenceKv(SequenceKv&&) noexcept;
  SequenceKv& operator=(SequenceKv&&) noexcept;
  ~SequenceKv();

  int32_t n_pos() const { return n_pos_; }  // positions [0, n_pos) have been appended
  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t window() const { return window_; }
  KvTypes type() const { return type_; }
  size_t n_layers() const { return layers_.size(); }
  const KvLayerSpec& layer(size_t i) const { return layers_[i].spec; }
  const KvLayerFormat& format(size_t i) const { return layers_[i].format; }

  // Forget everything and release the full layers' chunks.
  void clear();
  // Keep positions [0, n): fails (and changes nothing) if a sliding ring no longer holds the
  // window position n would attend to, i.e. positions [n - window + 1, n).
  Status truncate(int32_t n);
  bool can_truncate(int32_t n) const;
  // Lowest position a sliding layer still holds (0 for full layers).
  int32_t oldest_retained(size_t layer) const;
  // Bytes allocated for K and V.
  uint64_t bytes_used() const;

  // Appends n_rows positions [n_pos, n_pos + n_rows) to every storing layer (rows[i] for
  // layer i). Fails with kOutOfRange past n_ctx, kResourceExhausted if allocation fails.
  Status append(int32_t n_rows, std::span<const KvRows> rows);

  // Replaces the contents with saved rows (kv_snapshot.h): n_pos positions, of which the
  // sliding layers get only [sliding_from, n_pos) (at most their ring capacity) and the full
  // layers [0, n_pos); rows[i] holds layer i's rows of that range, K and V contiguous.
  Status restore(int32_t n_pos, int32_t sliding_from, std::span<const KvRows> rows);

  // Appends to `out` the runs of positions [lo, hi) of `layer`, in position order. Requires
  // oldest_retained(layer) <= lo <= hi <= n_pos (a programmer error otherwise).
  void segments(size_t layer, int32_t lo, int32_t hi, std::vector<ops::KvSegment>& out) const;

 private:
  struct Layer {
    KvLayerSpec spec;
    KvLayerFormat format;
    int32_t capacity = 0;  // sliding: ring positions
    // Sliding: one block of `capacity` rows. Full: chunks of kChunkPositions rows.
    std::vector<std::unique_ptr<uint8_t[]>> k_chunks, v_chunks;
  };
  Status reserve(int32_t end);
  uint64_t row_bytes(const Layer& l) const {
    return static_cast<uint64_t>(ops::kv_row_bytes(l.format.elem, l.spec.kv_dim));
  }

  std::vector<Layer> layers_;
  uint32_t window_ = 0;
  uint32_t n_ctx_ = 0;
  KvTypes type_;
  int32_t n_pos_ = 0;
  int32_t swa_valid_from_ = 0;  // lowest position still intact in every sliding ring
};

// A fixed number of sequence slots, sized from the config (so the daemon can batch apps).
class KvCachePool {
 public:
  KvCachePool(std::vector<KvLayerSpec> layers, uint32_t window, const KvCacheOptions& opts);

  uint32_t n_seq() const { return static_cast<uint32_t>(seqs_.size()); }
  SequenceKv& seq(uint32_t i) { return seqs_[i]; }
  const SequenceKv& seq(uint32_t i) const { return seqs_[i]; }
  const KvCacheOptions& options() const { return opts_; }
  uint64_t bytes_used() const;

 private:
  KvCacheOptions opts_;
  std::vector<SequenceKv> seqs_;
};

}  // namespace gemmad::runtime
