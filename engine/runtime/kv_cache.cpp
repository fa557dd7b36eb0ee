// KV cache: sliding rings and chunked full-layer storage per sequence, and the slot pool.
#include "runtime/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <string>

namespace gemmad::runtime {

KvLayerFormat kv_layer_format(const KvLayerSpec& layer, KvTypes types) {
  switch (types.of(layer.sliding)) {
    case KvType::kF16:
      return {ops::KvElem::kF16};
    case KvType::kF32:
      return {ops::KvElem::kF32};
    case KvType::kQ8:
      if (layer.k_scale > 0.0f && layer.v_scale > 0.0f) {
        return {ops::KvElem::kQ8Static, layer.k_scale, layer.v_scale};
      }
      return {ops::KvElem::kQ8};
    case KvType::kQ4:
      return {ops::KvElem::kQ4};
  }
  return {};
}

SequenceKv::SequenceKv(std::span<const KvLayerSpec> layers, uint32_t window,
                       const KvCacheOptions& opts)
    : window_(window), n_ctx_(opts.n_ctx), type_(opts.type) {
  const uint32_t ring = std::max(1u, std::min(std::max(window, opts.swa_capacity), opts.n_ctx));
  layers_.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    layers_[i].spec = layers[i];
    layers_[i].format = kv_layer_format(layers[i], type_);
    layers_[i].capacity = layers[i].sliding ? static_cast<int32_t>(ring) : 0;
  }
}

SequenceKv::SequenceKv(SequenceKv&&) noexcept = default;
SequenceKv& SequenceKv::operator=(SequenceKv&&) noexcept = default;
SequenceKv::~SequenceKv() = default;

void SequenceKv::clear() {
  for (Layer& l : layers_) {
    l.k_chunks.clear();
    l.v_chunks.clear();
  }
  n_pos_ = 0;
  swa_valid_from_ = 0;
}

bool SequenceKv::can_truncate(int32_t n) const {
  if (n < 0 || n > n_pos_) return false;
  if (n == 0 || n == n_pos_) return true;
  const bool any_sliding =
      std::any_of(layers_.begin(), layers_.end(), [](const Layer& l) { return l.spec.sliding; });
  if (!any_sliding) return true;
  // Position n will attend to (n - window, n]; positions below n must still be in the ring.
  const int32_t needed_from = std::max<int32_t>(0, n - static_cast<int32_t>(window_) + 1);
  return needed_from >= swa_valid_from_;
}

Status SequenceKv::truncate(int32_t n) {
  if (!can_truncate(n)) {
    if (n < 0 || n > n_pos_) {
      return make_error(ErrorCode::kOutOfRange, "KV truncate to " + std::to_string(n) +
                                                    " positions: outside [0, " +
                                                    std::to_string(n_pos_) + "]");
    }
    return make_error(ErrorCode::kOutOfRange,
                      "KV truncate to " + std::to_string(n) +
                          " positions: sliding-window layers only hold positions >= " +
                          std::to_string(swa_valid_from_) + " (ring capacity too small)");
  }
  if (n == 0) {
    clear();
    return {};
  }
  n_pos_ = n;
  const size_t keep_chunks = (static_cast<size_t>(n) + kChunkPositions - 1) / kChunkPositions;
  for (Layer& l : layers_) {
    if (!l.spec.sliding && l.k_chunks.size() > keep_chunks) {
      l.k_chunks.resize(keep_chunks);
      l.v_chunks.resize(keep_chunks);
    }
  }
  return {};
}

int32_t SequenceKv::oldest_retained(size_t layer) const {
  return layers_[layer].spec.sliding ? swa_valid_from_ : 0;
}

uint64_t SequenceKv::bytes_used() const {
  uint64_t total = 0;
  for (const Layer& l : layers_) {
    const uint64_t rows = l.spec.sliding ? static_cast<uint64_t>(l.capacity) : kChunkPositions;
    total += 2 * l.k_chunks.size() * rows * row_bytes(l);
  }
  return total;
}

// Allocates the chunks positions [0, end) need (a sliding ring is one block).
Status SequenceKv::reserve(int32_t end) {
  try {
    for (Layer& l : layers_) {
      const size_t want =
          l.spec.sliding ? 1 : (static_cast<size_t>(end) + kChunkPositions - 1) / kChunkPositions;
      const uint64_t chunk_rows = l.spec.sliding ? l.capacity : kChunkPositions;
      while (l.k_chunks.size() < want) {
        l.k_chunks.emplace_back(new uint8_t[chunk_rows * row_bytes(l)]);
        l.v_chunks.emplace_back(new uint8_t[chunk_rows * row_bytes(l)]);
      }
    }
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kResourceExhausted,
                      "KV cache: out of memory growing to " + std::to_string(end) + " positions");
  }
  return {};
}

Status SequenceKv::append(int32_t n_rows, std::span<const KvRows> rows) {
  if (rows.size() != layers_.size()) {
    return make_error(ErrorCode::kInternal, "KV append: " + std::to_string(rows.size()) +
                                                " layers given; cache has " +
                                                std::to_string(layers_.size()));
  }
  if (n_rows < 0 || static_cast<int64_t>(n_pos_) + n_rows > static_cast<int64_t>(n_ctx_)) {
    return make_error(ErrorCode::kOutOfRange,
                      "context full: " + std::to_string(n_pos_) + " + " + std::to_string(n_rows) +
                          " positions exceed the KV cache limit of " + std::to_string(n_ctx_));
  }
  const int32_t end = n_pos_ + n_rows;
  GEMMAD_TRY(reserve(end));
  for (size_t li = 0; li < layers_.size(); ++li) {
    Layer& l = layers_[li];
    const uint64_t rb = row_bytes(l);
    const auto* k = static_cast<const uint8_t*>(rows[li].k);
    const auto* v = static_cast<const uint8_t*>(rows[li].v);
    // A ring keeps only the last `capacity` rows; earlier rows of the same append would be
    // overwritten anyway.
    const int32_t first = l.spec.sliding ? std::max(0, n_rows - l.capacity) : 0;
    for (int32_t r = first; r < n_rows; ++r) {
      const int32_t pos = n_pos_ + r;
      uint8_t* kd;
      uint8_t* vd;
      if (l.spec.sliding) {
        const uint64_t slot = static_cast<uint64_t>(pos % l.capacity);
        kd = l.k_chunks[0].get() + slot * rb;
        vd = l.v_chunks[0].get() + slot * rb;
      } else {
        const uint64_t slot = static_cast<uint64_t>(pos % kChunkPositions);
        kd = l.k_chunks[pos / kChunkPositions].get() + slot * rb;
        vd = l.v_chunks[pos / kChunkPositions].get() + slot * rb;
      }
      std::memcpy(kd, k + r * rb, rb);
      std::memcpy(vd, v + r * rb, rb);
    }
  }
  n_pos_ = end;
  for (const Layer& l : layers_) {
    if (l.spec.sliding) swa_valid_from_ = std::max(swa_valid_from_, n_pos_ - l.capacity);
  }
  return {};
}

Status SequenceKv::restore(int32_t n_pos, int32_t sliding_from, std::span<const KvRows> rows) {
  if (rows.size() != layers_.size() || n_pos <= 0 || static_cast<uint32_t>(n_pos) > n_ctx_ ||
      sliding_from < 0 || sliding_from > n_pos) {
    return make_error(ErrorCode::kOutOfRange,
                      "KV restore of " + std::to_string(n_pos) + " positions (sliding from " +
                          std::to_string(sliding_from) + ") does not fit a cache of " +
                          std::to_string(n_ctx_) + " positions and " +
                          std::to_string(layers_.size()) + " layers");
  }
  for (const Layer& l : layers_) {
    if (l.spec.sliding && n_pos - sliding_from > l.capacity) {
      return make_error(ErrorCode::kOutOfRange,
                        "KV restore: " + std::to_string(n_pos - sliding_from) +
                            " sliding positions exceed the ring of " + std::to_string(l.capacity));
    }
  }
  clear();
  // append() of the full range would need the sliding rows below sliding_from; write the rows
  // position by position instead, as append() places them.
  if (Status st = reserve(n_pos); !st.ok()) {
    clear();
    return st;
  }
  for (size_t li = 0; li < layers_.size(); ++li) {
    Layer& l = layers_[li];
    const uint64_t rb = row_bytes(l);
    const auto* k = static_cast<const uint8_t*>(rows[li].k);
    const auto* v = static_cast<const uint8_t*>(rows[li].v);
    const int32_t first = l.spec.sliding ? sliding_from : 0;
    for (int32_t pos = first; pos < n_pos; ++pos) {
      const uint64_t r = static_cast<uint64_t>(pos - first);
      const int32_t run = l.spec.sliding ? l.capacity : kChunkPositions;
      const size_t chunk = l.spec.sliding ? 0 : static_cast<size_t>(pos / kChunkPositions);
      const uint64_t slot = static_cast<uint64_t>(pos % run);
      std::memcpy(l.k_chunks[chunk].get() + slot * rb, k + r * rb, rb);
      std::memcpy(l.v_chunks[chunk].get() + slot * rb, v + r * rb, rb);
    }
  }
  n_pos_ = n_pos;
  const bool any_sliding =
      std::any_of(layers_.begin(), layers_.end(), [](const Layer& l) { return l.spec.sliding; });
  swa_valid_from_ = any_sliding ? sliding_from : 0;
  return {};
}

void SequenceKv::segments(size_t layer, int32_t lo, int32_t hi,
                          std::vector<ops::KvSegment>& out) const {
  const Layer& l = layers_[layer];
  assert(lo >= oldest_retained(layer) && lo <= hi && hi <= n_pos_);
  const uint64_t rb = row_bytes(l);
  const int32_t run = l.spec.sliding ? l.capacity : kChunkPositions;
  for (int32_t p = lo; p < hi;) {
    const int32_t slot = p % run;
    const size_t chunk = l.spec.sliding ? 0 : static_cast<size_t>(p / kChunkPositions);
    const int32_t n = std::min(hi - p, run - slot);
    out.push_back(ops::KvSegment{l.k_chunks[chunk].get() + slot * rb,
                                 l.v_chunks[chunk].get() + slot * rb, n});
    p += n;
  }
}

KvCachePool::KvCachePool(std::vector<KvLayerSpec> layers, uint32_t window,
                         const KvCacheOptions& opts)
    : opts_(opts) {
  seqs_.reserve(opts.n_seq);
  for (uint32_t i = 0; i < opts.n_seq; ++i)
    seqs_.emplace_back(layers, window, opts);
}

uint64_t KvCachePool::bytes_used() const {
  uint64_t total = 0;
  for (const SequenceKv& s : seqs_)
    total += s.bytes_used();
  return total;
}

}  // namespace gemmad::runtime
