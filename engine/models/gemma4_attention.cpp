// Attention of the Gemma 4 forward pass (docs/GEMMA4.md §1.3 step 4, §1.5-1.7): the in-flight
// K/V of a pass, the key range each row sees, and the parallel driver over (row, head group).
//
// In-flight rows: the K/V a pass computes are kept, in the cache's element type, in a
// per-pass store ordered by (sequence, position), and committed to the sequences' caches after
// the last layer. Attention of a row at position p of sequence s reads cached positions below
// the pass's first position of s from the cache, and the rest from the store. So a sliding
// ring of W positions suffices even when a prompt chunk is longer than W, KV-shared layers
// see the in-flight rows of their source layer, and batch and step runs read identical
// (equally rounded) values in the same order.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "models/gemma4_impl.h"

namespace gemmad::engine {

Status Gemma4Forward::Impl::validate_kv_formats(const runtime::KvCachePool& kv) const {
  const runtime::SequenceKv& s = kv.seq(0);
  if (s.n_layers() != kv_specs.size()) {
    return make_error(ErrorCode::kInvalidArgument, "KV cache has " + std::to_string(s.n_layers()) +
                                                       " storing layers; the model has " +
                                                       std::to_string(kv_specs.size()));
  }
  for (size_t l = 0; l < kv_specs.size(); ++l) {
    const uint32_t hd = c.head_dim(static_cast<uint32_t>(l));
    if (ops::kv_is_blocked(s.format(l).elem) && hd % 32 != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "KV type " + runtime::kv_types_name(s.type()) + ": layer " +
                            std::to_string(l) + " has head_dim " + std::to_string(hd) +
                            "; quantized KV types need a multiple of 32");
    }
  }
  return {};
}

void Gemma4Forward::Impl::plan_inflight(const runtime::KvCachePool& kv) {
  PassState& ps = pass;
  const size_t n_seq = kv.n_seq();
  ps.seq_first_slot.assign(n_seq, 0);
  ps.seq_pos0.assign(n_seq, 0);
  ps.seq_count.assign(n_seq, 0);
  ps.seq_ids.clear();
  for (int r = 0; r < ps.n; ++r) {
    const int32_t s = ps.rows[r].seq;
    if (ps.seq_count[s]++ == 0) {
      ps.seq_ids.push_back(s);
      ps.seq_pos0[s] = ps.rows[r].pos;
    }
  }
  int32_t offset = 0;
  for (int32_t s : ps.seq_ids) {
    ps.seq_first_slot[s] = offset;
    offset += ps.seq_count[s];
  }
  // Rows of a sequence have consecutive positions (validated), so slot = first + pos - pos0.
  ps.slot.resize(ps.n);
  for (int r = 0; r < ps.n; ++r) {
    const int32_t s = ps.rows[r].seq;
    ps.slot[r] = ps.seq_first_slot[s] + ps.rows[r].pos - ps.seq_pos0[s];
  }
  kv_fmt.resize(kv_specs.size());
  inflight_k.resize(kv_specs.size());
  inflight_v.resize(kv_specs.size());
  for (size_t l = 0; l < kv_specs.size(); ++l) {
    kv_fmt[l] = kv.seq(0).format(l);
    inflight_k[l].ensure(size_t(ps.n) * row_bytes(static_cast<int>(l)));
    inflight_v[l].ensure(size_t(ps.n) * row_bytes(static_cast<int>(l)));
  }
}

void Gemma4Forward::Impl::store_inflight(int kv_layer, const float* kr, const float* vr) {
  const int64_t kv_dim = kv_specs[kv_layer].kv_dim;
  const int64_t rb = row_bytes(kv_layer);
  const runtime::KvLayerFormat& f = kv_fmt[kv_layer];
  for (int64_t kk = 0; kk < n_act(); ++kk) {
    const int64_t slot = pass.slot[pass.act[kk]];
    ops::quantize_kv_row(f.elem, f.k_scale, kr + kk * kv_dim,
                         inflight_k[kv_layer].get() + slot * rb, kv_dim);
    ops::quantize_kv_row(f.elem, f.v_scale, vr + kk * kv_dim,
                         inflight_v[kv_layer].get() + slot * rb, kv_dim);
  }
}

ops::AttentionArgs Gemma4Forward::Impl::attention_args(int il, int64_t j) const {
  const int kvl = kv_of_layer[il];
  const int64_t hd = c.head_dim(il);
  ops::AttentionArgs args;
  args.n_heads = static_cast<int>(c.n_head / c.n_head_kv);
  args.head_dim = static_cast<int>(hd);
  args.elem = kv_fmt[kvl].elem;
  args.k_scale = kv_fmt[kvl].k_scale;
  args.v_scale = kv_fmt[kvl].v_scale;
  args.row_stride = kv_specs[kvl].kv_dim;
  args.kv_offset = j * hd;
  args.scale = 1.0f;  // §1.3 step 4: no 1/sqrt(hd)
  return args;
}

void Gemma4Forward::Impl::attention(int il, const runtime::KvCachePool& kv) {
  const int kvl = kv_of_layer[il];
  const int64_t hd = c.head_dim(il);
  const int64_t nh = c.n_head, nkv = c.n_head_kv;
  const int64_t q_dim = nh * hd;
  const int64_t group = nh / nkv;  // GQA: query head j uses KV head j / group
  const bool swa = c.is_swa[il];
  const int32_t window = static_cast<int32_t>(c.n_swa);
  const int64_t rb = row_bytes(kvl);
  auto key_lo = [&](int32_t p) { return swa ? std::max(0, p - window + 1) : 0; };  // §1.5

  // Tiles: up to kMaxTileRows consecutive active rows of one sequence share each widened K/V
  // block. Rows of a sequence are in position order, so their key ranges only move forward.
  constexpr int64_t kMaxTileRows = 16;
  constexpr int64_t kMaxTileScores = int64_t{1} << 21;  // bounds the per-thread score scratch
  tile_rows.clear();
  tiles.clear();
  for (int32_t s : pass.seq_ids) {
    for (int64_t kk = 0; kk < n_act(); ++kk) {
      if (pass.act_seq[kk] != s) continue;
      const bool full = !tiles.empty() && tiles.back().seq == s &&
                        (tiles.back().count >= kMaxTileRows ||
                         (tiles.back().count + 1) * group *
                                 (pass.act_pos[kk] + 1 - key_lo(tiles.back().first_pos)) >
                             kMaxTileScores);
      if (tiles.empty() || tiles.back().seq != s || full) {
        tiles.push_back(Tile{s, static_cast<int32_t>(tile_rows.size()), 0, pass.act_pos[kk]});
      }
      tile_rows.push_back(static_cast<int32_t>(kk));
      ++tiles.back().count;
    }
  }
  const int64_t n_tiles = static_cast<int64_t>(tiles.size());
  if (n_tiles * nkv < pool.size()) {
    // Too few (row, KV head) tasks for the threads (a decode step): split each one's keys,
    // then its value columns, across the pool instead.
    for (const Tile& tile : tiles) {
      for (int32_t i = 0; i < tile.count; ++i) {
        const int64_t kk = tile_rows[tile.begin + i];
        for (int64_t j = 0; j < nkv; ++j)
          attend_split(il, kv, kk, j);
      }
    }
    return;
  }
  // One task per (tile, KV head): it widens each K/V block once for all heads and rows.
  pool.parallel_for(n_tiles * nkv, 1, [&](int64_t b, int64_t e, int thread) {
    std::vector<ops::KvSegment>& segs = attn_segs[thread];
    std::vector<ops::AttentionQuery>& queries = attn_queries[thread];
    for (int64_t t = b; t < e; ++t) {
      const Tile& tile = tiles[t / nkv];
      const int64_t j = t % nkv;
      const int64_t head0 = j * group;
      const int32_t s = tile.seq;
      const int32_t pos0 = pass.seq_pos0[s];
      const int32_t first = key_lo(tile.first_pos);
      const int32_t last = pass.act_pos[tile_rows[tile.begin + tile.count - 1]];
      // Keys [first, last]: cached below the pass's first position of s, in flight above.
      segs.clear();
      if (first < pos0) kv.seq(s).segments(kvl, first, std::min(last + 1, pos0), segs);
      const int32_t a0 = std::max(first, pos0);
      if (a0 <= last) {
        const int64_t slot = pass.seq_first_slot[s] + (a0 - pos0);
        segs.push_back(ops::KvSegment{inflight_k[kvl].get() + slot * rb,
                                      inflight_v[kvl].get() + slot * rb, last - a0 + 1});
      }
      queries.clear();
      for (int32_t i = 0; i < tile.count; ++i) {
        const int64_t kk = tile_rows[tile.begin + i];
        const int32_t p = pass.act_pos[kk];
        queries.push_back(ops::AttentionQuery{q.get() + kk * q_dim + head0 * hd,
                                              attn.get() + kk * q_dim + head0 * hd,
                                              key_lo(p) - first, p + 1 - first});
      }
      const ops::AttentionArgs args = attention_args(il, j);
      ops::attend_multi(args, segs, queries, attn_scratch[thread]);
    }
  });
}

void Gemma4Forward::Impl::attend_split(int il, const runtime::KvCachePool& kv, int64_t kk,
                                       int64_t j) {
  const int kvl = kv_of_layer[il];
  const int64_t hd = c.head_dim(il);
  const int64_t nh = c.n_head, nkv = c.n_head_kv;
  const int64_t q_dim = nh * hd, group = nh / nkv;
  const int64_t rb = row_bytes(kvl);
  const int32_t s = pass.act_seq[kk], p = pass.act_pos[kk], pos0 = pass.seq_pos0[s];
  const int32_t first = c.is_swa[il] ? std::max(0, p - static_cast<int32_t>(c.n_swa) + 1) : 0;
  std::vector<ops::KvSegment>& segs = attn_segs[0];
  segs.clear();
  if (first < pos0) kv.seq(s).segments(kvl, first, std::min(p + 1, pos0), segs);
  const int32_t a0 = std::max(first, pos0);
  if (a0 <= p) {
    const int64_t slot = pass.seq_first_slot[s] + (a0 - pos0);
    segs.push_back(ops::KvSegment{inflight_k[kvl].get() + slot * rb,
                                  inflight_v[kvl].get() + slot * rb, p - a0 + 1});
  }
  const int64_t n_keys = p + 1 - first;
  ops::AttentionArgs args = attention_args(il, j);
  args.q = q.get() + kk * q_dim + j * group * hd;
  args.out = attn.get() + kk * q_dim + j * group * hd;
  split_scores.ensure(static_cast<size_t>(group * n_keys));
  split_max.assign(static_cast<size_t>(pool.size() * group),
                   -std::numeric_limits<float>::infinity());
  split_sum.resize(group);
  split_local.resize(static_cast<size_t>(pool.size() * group));
  // Phase 1: scores, keys split across threads; maxima per thread, then combined (exact).
  pool.parallel_for(n_keys, 32, [&](int64_t b, int64_t e, int thread) {
    float* mx = split_local.data() + thread * group;
    ops::attention_scores(args, segs, b, e, split_scores.get(), n_keys, mx, attn_scratch[thread]);
    for (int64_t h = 0; h < group; ++h) {
      split_max[thread * group + h] = std::max(split_max[thread * group + h], mx[h]);
    }
  });
  for (int t = 1; t < pool.size(); ++t) {
    for (int64_t h = 0; h < group; ++h) {
      split_max[h] = std::max(split_max[h], split_max[t * group + h]);
    }
  }
  // Phase 2: softmax numerators and sums, in position order.
  ops::attention_softmax(split_scores.get(), static_cast<int>(group), n_keys, n_keys,
                         split_max.data(), split_sum.data());
  // Phase 3: value columns split across threads, in whole blocks of a quantized type.
  const int64_t unit = ops::kv_is_blocked(args.elem) ? 32 : 16;
  pool.parallel_for((hd + unit - 1) / unit, 1, [&](int64_t b, int64_t e, int thread) {
    ops::attention_values(args, segs, n_keys, split_scores.get(), n_keys, split_sum.data(),
                          static_cast<int>(b * unit), static_cast<int>(std::min(e * unit, hd)),
                          attn_scratch[thread]);
  });
}

Status Gemma4Forward::Impl::commit_inflight(runtime::KvCachePool& kv) {
  std::vector<runtime::KvRows> rows(kv_specs.size());
  for (int32_t s : pass.seq_ids) {
    for (size_t l = 0; l < kv_specs.size(); ++l) {
      const size_t off = size_t(pass.seq_first_slot[s]) * row_bytes(static_cast<int>(l));
      rows[l] = runtime::KvRows{inflight_k[l].get() + off, inflight_v[l].get() + off};
    }
    GEMMAD_TRY(kv.seq(static_cast<uint32_t>(s)).append(pass.seq_count[s], rows));
  }
  return {};
}

}  // namespace gemmad::engine
