// Snapshot of a SequenceKv; see kv_snapshot.h. Integers are little-endian (the build targets,
// x86-64 and arm64, are).
#include "runtime/kv_snapshot.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace gemmad::runtime {
namespace {

// Per layer: u8 sliding, u8 element type, u16 zero, u32 kv_dim, f32 k_scale, f32 v_scale,
// i32 first position, i32 positions.
struct LayerHead {
  uint8_t sliding = 0;
  uint8_t elem = 0;
  uint16_t zero = 0;
  uint32_t kv_dim = 0;
  float k_scale = 0, v_scale = 0;
  int32_t first = 0;
  int32_t count = 0;
};
static_assert(sizeof(LayerHead) == 24);

// u32 n_layers, i32 n_pos, i32 sliding_from, u32 zero.
struct SnapHead {
  uint32_t n_layers = 0;
  int32_t n_pos = 0;
  int32_t sliding_from = 0;
  uint32_t zero = 0;
};
static_assert(sizeof(SnapHead) == 16);

template <typename T>
void put(std::vector<uint8_t>& out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

LayerHead head_of(const SequenceKv& seq, size_t i, int32_t sliding_from) {
  LayerHead h;
  h.sliding = seq.layer(i).sliding ? 1 : 0;
  h.elem = static_cast<uint8_t>(seq.format(i).elem);
  h.kv_dim = seq.layer(i).kv_dim;
  h.k_scale = seq.format(i).k_scale;
  h.v_scale = seq.format(i).v_scale;
  h.first = h.sliding ? sliding_from : 0;
  h.count = seq.n_pos() - h.first;
  return h;
}

uint64_t rows_bytes(const SequenceKv& seq, size_t i, int32_t count) {
  return static_cast<uint64_t>(ops::kv_row_bytes(seq.format(i).elem, seq.layer(i).kv_dim)) *
         static_cast<uint64_t>(count);
}

Error mismatch(size_t layer, const char* field, int64_t saved, int64_t live) {
  return make_error(ErrorCode::kInvalidArgument,
                    "saved KV layer " + std::to_string(layer) + ": " + field + " " +
                        std::to_string(saved) + " where this cache has " + std::to_string(live));
}

}  // namespace

int32_t snapshot_sliding_from(const SequenceKv& seq) {
  int32_t from = std::max<int32_t>(0, seq.n_pos() - static_cast<int32_t>(seq.window()));
  for (size_t i = 0; i < seq.n_layers(); ++i)
    from = std::max(from, seq.oldest_retained(i));
  return from;
}

uint64_t kv_snapshot_bytes(const SequenceKv& seq) {
  const int32_t from = snapshot_sliding_from(seq);
  uint64_t total = sizeof(SnapHead);
  for (size_t i = 0; i < seq.n_layers(); ++i) {
    const LayerHead h = head_of(seq, i, from);
    total += sizeof(LayerHead) + 2 * rows_bytes(seq, i, h.count);
  }
  return total;
}

void kv_snapshot_append(const SequenceKv& seq, std::vector<uint8_t>& out) {
  const int32_t from = snapshot_sliding_from(seq);
  out.reserve(out.size() + kv_snapshot_bytes(seq));
  put(out, SnapHead{static_cast<uint32_t>(seq.n_layers()), seq.n_pos(), from, 0});
  for (size_t i = 0; i < seq.n_layers(); ++i)
    put(out, head_of(seq, i, from));
  std::vector<ops::KvSegment> segs;
  for (size_t i = 0; i < seq.n_layers(); ++i) {
    const LayerHead h = head_of(seq, i, from);
    segs.clear();
    seq.segments(i, h.first, seq.n_pos(), segs);
    const uint64_t rb = rows_bytes(seq, i, 1);
    for (const auto& s : segs) {
      const auto* k = static_cast<const uint8_t*>(s.k);
      out.insert(out.end(), k, k + rb * static_cast<uint64_t>(s.n));
    }
    for (const auto& s : segs) {
      const auto* v = static_cast<const uint8_t*>(s.v);
      out.insert(out.end(), v, v + rb * static_cast<uint64_t>(s.n));
    }
  }
}

Status kv_snapshot_restore(SequenceKv& seq, std::span<const uint8_t> bytes) {
  seq.clear();
  SnapHead sh;
  if (bytes.size() < sizeof(sh)) {
    return make_error(ErrorCode::kInvalidArgument, "saved KV: " + std::to_string(bytes.size()) +
                                                       " bytes, shorter than its head");
  }
  std::memcpy(&sh, bytes.data(), sizeof(sh));
  if (sh.n_layers != seq.n_layers()) {
    return make_error(ErrorCode::kInvalidArgument, "saved KV has " + std::to_string(sh.n_layers) +
                                                       " storing layers where this cache has " +
                                                       std::to_string(seq.n_layers()));
  }
  if (sh.zero != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "saved KV: reserved head field is " + std::to_string(sh.zero) + ", not 0");
  }
  if (sh.n_pos <= 0 || static_cast<uint32_t>(sh.n_pos) > seq.n_ctx() || sh.sliding_from < 0 ||
      sh.sliding_from > sh.n_pos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "saved KV: n_pos " + std::to_string(sh.n_pos) + " / sliding_from " +
                          std::to_string(sh.sliding_from) + " outside [1, " +
                          std::to_string(seq.n_ctx()) + "]");
  }
  // The sliding layers must hold what the next position attends to, and a restored cache must
  // save again as the same bytes: sliding_from is what snapshot_sliding_from() writes, the
  // window below n_pos, or one above it after a one-position roll back (kv_cache.cpp).
  const bool any_sliding = [&] {
    for (size_t i = 0; i < seq.n_layers(); ++i)
      if (seq.layer(i).sliding) return true;
    return false;
  }();
  const int32_t window_from = std::max<int32_t>(0, sh.n_pos - static_cast<int32_t>(seq.window()));
  const int32_t latest_from =
      any_sliding ? std::max<int32_t>(0, sh.n_pos - static_cast<int32_t>(seq.window()) + 1)
                  : window_from;
  if (sh.sliding_from < window_from || sh.sliding_from > latest_from) {
    return make_error(ErrorCode::kInvalidArgument,
                      "saved KV: sliding_from " + std::to_string(sh.sliding_from) + " for n_pos " +
                          std::to_string(sh.n_pos) + " where a window of " +
                          std::to_string(seq.window()) + " keeps positions from " +
                          std::to_string(window_from) +
                          (latest_from != window_from ? " or " + std::to_string(latest_from) : ""));
  }
  const uint64_t heads_end = sizeof(SnapHead) + uint64_t{sh.n_layers} * sizeof(LayerHead);
  if (bytes.size() < heads_end) {
    return make_error(ErrorCode::kInvalidArgument, "saved KV: " + std::to_string(bytes.size()) +
                                                       " bytes, shorter than its layer table of " +
                                                       std::to_string(heads_end));
  }
  std::vector<KvRows> rows(sh.n_layers);
  uint64_t at = heads_end;
  for (size_t i = 0; i < sh.n_layers; ++i) {
    LayerHead h;
    std::memcpy(&h, bytes.data() + sizeof(SnapHead) + i * sizeof(LayerHead), sizeof(h));
    const LayerHead want = head_of(seq, i, 0);
    if (h.zero != 0) return mismatch(i, "reserved field", h.zero, 0);
    if (h.sliding != want.sliding) return mismatch(i, "sliding", h.sliding, want.sliding);
    if (h.elem != want.elem) return mismatch(i, "KV element type", h.elem, want.elem);
    if (h.kv_dim != want.kv_dim) return mismatch(i, "kv_dim", h.kv_dim, want.kv_dim);
    if (std::memcmp(&h.k_scale, &want.k_scale, sizeof(float)) != 0 ||
        std::memcmp(&h.v_scale, &want.v_scale, sizeof(float)) != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "saved KV layer " + std::to_string(i) + ": static scales differ");
    }
    const int32_t first = h.sliding ? sh.sliding_from : 0;
    if (h.first != first) return mismatch(i, "first position", h.first, first);
    if (h.count != sh.n_pos - first) return mismatch(i, "positions", h.count, sh.n_pos - first);
    const uint64_t n = rows_bytes(seq, i, h.count);
    if (bytes.size() - at < 2 * n) {
      return make_error(ErrorCode::kInvalidArgument,
                        "saved KV layer " + std::to_string(i) + ": needs " + std::to_string(2 * n) +
                            " bytes of rows, " + std::to_string(bytes.size() - at) + " left");
    }
    rows[i] = KvRows{bytes.data() + at, bytes.data() + at + n};
    at += 2 * n;
  }
  if (at != bytes.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "saved KV: " + std::to_string(bytes.size() - at) + " bytes after the rows");
  }
  return seq.restore(sh.n_pos, sh.sliding_from, rows);
}

}  // namespace gemmad::runtime
