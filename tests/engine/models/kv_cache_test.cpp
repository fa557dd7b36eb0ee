// KV cache: sliding rings, chunked full layers, truncation limits, context limit, f16 storage.
#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/fp16.h"
#include "models/gemma4.h"

namespace gemmad::runtime {
namespace {

// One sliding and one full layer, 2 elements per position; K = (pos, -pos), V = (pos+0.5, 1).
std::vector<KvLayerSpec> two_layers() {
  return {{true, 2}, {false, 2}};
}

Status append_positions(SequenceKv& s, int32_t n) {
  const int32_t p0 = s.n_pos();
  std::vector<float> k, v;
  for (int32_t i = 0; i < n; ++i) {
    const float p = static_cast<float>(p0 + i);
    k.insert(k.end(), {p, -p});
    v.insert(v.end(), {p + 0.5f, 1.0f});
  }
  std::vector<KvRows> rows(2, KvRows{k.data(), v.data()});
  return s.append(n, rows);
}

// Positions of the K rows of [lo, hi) of `layer`, read back through segments().
std::vector<float> positions(const SequenceKv& s, size_t layer, int32_t lo, int32_t hi) {
  std::vector<ops::KvSegment> segs;
  s.segments(layer, lo, hi, segs);
  std::vector<float> out;
  for (const auto& seg : segs) {
    const auto* k = static_cast<const float*>(seg.k);
    const auto* v = static_cast<const float*>(seg.v);
    for (int32_t r = 0; r < seg.n; ++r) {
      EXPECT_EQ(k[2 * r + 1], -k[2 * r]);
      EXPECT_EQ(v[2 * r], k[2 * r] + 0.5f);
      out.push_back(k[2 * r]);
    }
  }
  return out;
}

KvCacheOptions f32_opts(uint32_t n_ctx, uint32_t swa_capacity = 0) {
  KvCacheOptions o;
  o.n_ctx = n_ctx;
  o.type = KvType::kF32;
  o.swa_capacity = swa_capacity;
  return o;
}

TEST(SequenceKv, SlidingRingKeepsTheLastWindowInPositionOrder) {
  SequenceKv s(two_layers(), 4, f32_opts(1000));
  ASSERT_TRUE(append_positions(s, 3).ok());
  ASSERT_TRUE(append_positions(s, 7).ok());  // positions 0..9; ring holds 6..9
  EXPECT_EQ(s.n_pos(), 10);
  EXPECT_EQ(s.oldest_retained(0), 6);
  EXPECT_EQ(s.oldest_retained(1), 0);
  EXPECT_EQ(positions(s, 0, 6, 10), (std::vector<float>{6, 7, 8, 9}));  // wraps inside
  EXPECT_EQ(positions(s, 0, 7, 9), (std::vector<float>{7, 8}));
  EXPECT_EQ(positions(s, 1, 0, 10), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(SequenceKv, AnAppendLongerThanTheRingKeepsItsTail) {
  SequenceKv s(two_layers(), 4, f32_opts(1000));
  ASSERT_TRUE(append_positions(s, 11).ok());
  EXPECT_EQ(positions(s, 0, 7, 11), (std::vector<float>{7, 8, 9, 10}));
}

TEST(SequenceKv, BytesUsedFollowsAllocation) {
  SequenceKv s(two_layers(), 4, f32_opts(1000));
  EXPECT_EQ(s.bytes_used(), 0u);
  ASSERT_TRUE(append_positions(s, 1).ok());
  const uint64_t ring = 2 * 4 * 2 * 4;  // K+V, 4 positions, 2 floats
  const uint64_t chunk = 2 * SequenceKv::kChunkPositions * 2 * 4;
  EXPECT_EQ(s.bytes_used(), ring + chunk);
  ASSERT_TRUE(append_positions(s, SequenceKv::kChunkPositions).ok());  // crosses a chunk
  EXPECT_EQ(s.bytes_used(), ring + 2 * chunk);
  std::vector<float> all = positions(s, 1, 0, s.n_pos());
  ASSERT_EQ(all.size(), size_t(SequenceKv::kChunkPositions + 1));
  for (size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i], static_cast<float>(i));
  s.clear();
  EXPECT_EQ(s.n_pos(), 0);
  EXPECT_EQ(s.bytes_used(), 0u);
}

TEST(SequenceKv, AppendPastTheContextLimitFailsAndChangesNothing) {
  SequenceKv s(two_layers(), 4, f32_opts(10));
  ASSERT_TRUE(append_positions(s, 8).ok());
  Status st = append_positions(s, 3);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(s.n_pos(), 8);
}

TEST(SequenceKv, TruncateIsRefusedOnceTheRingLostTheWindow) {
  SequenceKv s(two_layers(), 4, f32_opts(1000));
  ASSERT_TRUE(append_positions(s, 10).ok());  // ring holds 6..9
  EXPECT_TRUE(s.can_truncate(10));
  EXPECT_TRUE(s.can_truncate(9));   // position 9 attends to 6..8: all held
  EXPECT_FALSE(s.can_truncate(8));  // would need 5
  EXPECT_FALSE(s.truncate(5).ok());
  EXPECT_EQ(s.n_pos(), 10);
  EXPECT_TRUE(s.truncate(0).ok());
  EXPECT_EQ(s.n_pos(), 0);
}

TEST(SequenceKv, ALargerRingAllowsRollingBack) {
  SequenceKv s(two_layers(), 4, f32_opts(1000, 6));
  ASSERT_TRUE(append_positions(s, 10).ok());  // ring of 6 holds 4..9
  EXPECT_TRUE(s.can_truncate(7));             // needs 4..6
  EXPECT_FALSE(s.can_truncate(6));            // needs 3
  ASSERT_TRUE(s.truncate(7).ok());
  EXPECT_EQ(s.n_pos(), 7);
  ASSERT_TRUE(append_positions(s, 2).ok());  // new 7, 8 overwrite the old ones
  EXPECT_EQ(positions(s, 0, 5, 9), (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(positions(s, 1, 0, 9).size(), 9u);
  // Positions 4..6 survived the rewrite (ring slots 4, 5, 0), so rolling back to 7 again is
  // allowed; 3 is gone for good.
  EXPECT_TRUE(s.can_truncate(7));
  EXPECT_FALSE(s.can_truncate(6));
}

TEST(SequenceKv, F16CacheStoresHalfPrecisionRows) {
  KvCacheOptions o = f32_opts(100);
  o.type = KvType::kF16;
  const std::vector<KvLayerSpec> one_full = {{false, 2}};
  SequenceKv s(one_full, 4, o);
  const uint16_t k[2] = {fp32_to_fp16(1.5f), fp32_to_fp16(-2.25f)};
  const uint16_t v[2] = {fp32_to_fp16(0.125f), fp32_to_fp16(3.0f)};
  std::vector<KvRows> rows{KvRows{k, v}};
  ASSERT_TRUE(s.append(1, rows).ok());
  std::vector<ops::KvSegment> segs;
  s.segments(0, 0, 1, segs);
  ASSERT_EQ(segs.size(), 1u);
  const auto* kk = static_cast<const uint16_t*>(segs[0].k);
  EXPECT_EQ(fp16_to_fp32(kk[1]), -2.25f);
  EXPECT_EQ(s.bytes_used(), 2u * SequenceKv::kChunkPositions * 2 * 2);
}

TEST(KvCachePool, HasIndependentSequenceSlots) {
  KvCacheOptions o = f32_opts(100);
  o.n_seq = 3;
  KvCachePool pool(two_layers(), 4, o);
  ASSERT_EQ(pool.n_seq(), 3u);
  ASSERT_TRUE(append_positions(pool.seq(1), 5).ok());
  EXPECT_EQ(pool.seq(0).n_pos(), 0);
  EXPECT_EQ(pool.seq(1).n_pos(), 5);
  EXPECT_EQ(pool.bytes_used(), pool.seq(1).bytes_used());
}

}  // namespace
}  // namespace gemmad::runtime

namespace gemmad::runtime {
namespace {

// The KV figures of docs/PERFORMANCE.md ("KV cache bytes"): E2B and E4B at 4,096 positions
// for every preset, through the real cache (full layers grow by chunks, sliding rings hold the
// 512-position window). Later contexts add bytes_per_position x positions to the full layers.
TEST(KvCachePool, BytesAt4KMatchTheDocumentedTable) {
  struct Row {
    const char* variant;
    const char* preset;
    uint64_t bytes_4k, full_bytes_per_position;
  };
  const Row rows[] = {
      {"e2b", "f32", 62914560, 12288},   {"e2b", "f16", 31457280, 6144},
      {"e2b", "q8", 16711680, 3264},     {"e2b", "q4", 8847360, 1728},
      {"e2b", "mobile", 10420224, 1728}, {"e4b", "f32", 176160768, 32768},
      {"e4b", "f16", 88080384, 16384},   {"e4b", "q8", 46792704, 8704},
      {"e4b", "q4", 24772608, 4608},     {"e4b", "mobile", 30015488, 4608},
  };
  std::vector<uint8_t> zeros(4096 * 1024 * 4);  // the widest row (E4B full f32) x 4096
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(r.variant) + " " + r.preset);
    const auto c = *engine::Gemma4Config::preset(r.variant);
    KvCacheOptions o;
    o.n_ctx = 131072;
    o.type = *parse_kv_types(r.preset);
    SequenceKv s(engine::gemma4_kv_layers(c), c.n_swa, o);
    std::vector<KvRows> kv(s.n_layers(), KvRows{zeros.data(), zeros.data()});
    ASSERT_TRUE(s.append(4096, kv).ok());
    EXPECT_EQ(s.bytes_used(), r.bytes_4k);
    uint64_t per_pos = 0;
    for (size_t l = 0; l < s.n_layers(); ++l) {
      if (!s.layer(l).sliding) {
        per_pos +=
            2 * static_cast<uint64_t>(ops::kv_row_bytes(s.format(l).elem, s.layer(l).kv_dim));
      }
    }
    EXPECT_EQ(per_pos, r.full_bytes_per_position);
  }
}

}  // namespace
}  // namespace gemmad::runtime
