// Saved KV (docs/KV_CACHE.md "Saved KV"): a session's KV through the real file format, the real
// store directory and tiny synthetic models loaded by the real loader; every mismatch falls
// back to a re-prefill (an empty restore), and the store keeps its bounds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "daemon/kv_resume.h"
#include "daemon/model_registry.h"
#include "runtime/kv_snapshot.h"
#include "synth/synth_model.h"
#include "tests/common/temp_dir.h"

namespace gemmad::daemon {
namespace {

namespace fs = std::filesystem;

class KvResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    for (auto [name, seed] : {std::pair{"a", 1}, std::pair{"b", 2}}) {
      synth::SynthOptions o;
      o.seed = static_cast<uint64_t>(seed);
      ASSERT_TRUE(synth::write_synthetic_model(o, dir_.file(std::string(name) + ".gguf")).ok());
      auto m = LoadedModel::load(name, dir_.file(std::string(name) + ".gguf"), 512);
      ASSERT_TRUE(m.ok()) << m.error().message;
      models_.push_back(*m);
    }
    store_ = open_store({});
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<KvStore> open_store(KvStoreOptions o) {
    o.dir = dir_.file("kv");
    auto s = KvStore::open(o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(s).value() : nullptr;
  }

  runtime::KvCachePool pool(const LoadedModel& m, runtime::KvTypes t = {}) {
    return m.model->new_kv_pool({.n_ctx = 512, .type = t, .n_seq = 2});
  }

  // n positions of deterministic bytes in every layer (the cache stores bytes as given).
  static void fill(runtime::SequenceKv& seq, int32_t n, uint8_t salt) {
    std::vector<std::vector<uint8_t>> k(seq.n_layers()), v(seq.n_layers());
    std::vector<runtime::KvRows> rows(seq.n_layers());
    for (size_t i = 0; i < seq.n_layers(); ++i) {
      const auto rb =
          static_cast<size_t>(ops::kv_row_bytes(seq.format(i).elem, seq.layer(i).kv_dim));
      k[i].resize(rb * static_cast<size_t>(n));
      v[i].resize(rb * static_cast<size_t>(n));
      for (size_t j = 0; j < k[i].size(); ++j) {
        k[i][j] = static_cast<uint8_t>(j * 7 + i * 13 + salt);
        v[i][j] = static_cast<uint8_t>(j * 11 + i * 3 + salt + 1);
      }
      rows[i] = {k[i].data(), v[i].data()};
    }
    ASSERT_TRUE(seq.append(n, rows).ok());
  }

  // The bytes of positions [lo, n_pos) of layer i.
  static std::vector<uint8_t> rows_of(const runtime::SequenceKv& seq, size_t i, int32_t lo) {
    std::vector<ops::KvSegment> segs;
    seq.segments(i, lo, seq.n_pos(), segs);
    const auto rb = static_cast<size_t>(ops::kv_row_bytes(seq.format(i).elem, seq.layer(i).kv_dim));
    std::vector<uint8_t> out;
    for (const auto& s : segs) {
      out.insert(out.end(), static_cast<const uint8_t*>(s.k),
                 static_cast<const uint8_t*>(s.k) + rb * static_cast<size_t>(s.n));
      out.insert(out.end(), static_cast<const uint8_t*>(s.v),
                 static_cast<const uint8_t*>(s.v) + rb * static_cast<size_t>(s.n));
    }
    return out;
  }

  static std::vector<int32_t> ids(int32_t n, int32_t first = 5) {
    std::vector<int32_t> t;
    for (int32_t i = 0; i < n; ++i)
      t.push_back(first + i % 40);
    return t;
  }

  // Saves `n` positions of model a's KV for session "s1" and waits for the file.
  std::vector<int32_t> save_a(int32_t n, runtime::KvTypes t = {}) {
    auto p = pool(*models_[0], t);
    fill(p.seq(0), n, 1);
    const std::vector<int32_t> tokens = ids(n);
    const std::vector<int32_t> tail = {9};
    KvResume(*store_).save(*models_[0], p.seq(0),
                           SlotNote{"s1", "1000:app", "a\n1\n0", tokens, tail});
    store_->flush();
    return tokens;
  }

  std::string only_file() {
    std::string found;
    for (const auto& e : fs::directory_iterator(dir_.file("kv")))
      found = e.path().string();
    return found;
  }

  testing::TempDir dir_;
  std::vector<std::shared_ptr<LoadedModel>> models_;
  std::unique_ptr<KvStore> store_;
};

TEST_F(KvResumeTest, RestoresEveryRowItNeedsAndOnlyTheWindowOfSlidingLayers) {
  const int32_t n = 100;  // past the tiny model's sliding window of 16
  auto src = pool(*models_[0]);
  fill(src.seq(0), n, 1);
  std::vector<int32_t> prompt = ids(n);
  prompt.push_back(3);
  KvResume resume(*store_);
  resume.save(*models_[0], src.seq(0), SlotNote{"s1", "1000:app", "", ids(n), {}});
  store_->flush();
  EXPECT_EQ(store_->stats().files, 1u);

  auto dst = pool(*models_[0]);
  const std::vector<int32_t> got = resume.restore(*models_[0], dst.seq(1), "s1", prompt);
  EXPECT_EQ(got, ids(n));
  const runtime::SequenceKv& a = src.seq(0);
  const runtime::SequenceKv& b = dst.seq(1);
  ASSERT_EQ(b.n_pos(), n);
  bool any_sliding = false;
  for (size_t i = 0; i < a.n_layers(); ++i) {
    const int32_t from = a.layer(i).sliding ? n - static_cast<int32_t>(a.window()) : 0;
    any_sliding |= a.layer(i).sliding;
    EXPECT_EQ(b.oldest_retained(i), from) << "layer " << i;
    EXPECT_EQ(rows_of(a, i, from), rows_of(b, i, from)) << "layer " << i;
  }
  EXPECT_TRUE(any_sliding);
  EXPECT_TRUE(b.can_truncate(n - 1));  // a one-token roll back still works
  EXPECT_EQ(resume.restored(), 1u);
}

// A snapshot of `seq` whose sliding layers start `shift` positions later (rows dropped) or,
// for a negative shift, earlier (rows of the layer's first position repeated): the layout of
// kv_snapshot.cpp, rebuilt by hand so every count and length stays consistent.
std::vector<uint8_t> snapshot_with_sliding_shift(const runtime::SequenceKv& seq, int32_t shift) {
  std::vector<uint8_t> snap;
  runtime::kv_snapshot_append(seq, snap);
  int32_t from = 0;
  std::memcpy(&from, snap.data() + 8, 4);
  const int32_t moved = from + shift;
  std::vector<uint8_t> out(snap.begin(), snap.begin() + 16 + 24 * seq.n_layers());
  std::memcpy(out.data() + 8, &moved, 4);
  size_t at = out.size();
  for (size_t i = 0; i < seq.n_layers(); ++i) {
    const auto rb = static_cast<size_t>(ops::kv_row_bytes(seq.format(i).elem, seq.layer(i).kv_dim));
    int32_t count = 0;
    std::memcpy(&count, snap.data() + 16 + 24 * i + 20, 4);
    const size_t n = rb * static_cast<size_t>(count);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* rows = snap.data() + at + half * n;
      if (!seq.layer(i).sliding) {
        out.insert(out.end(), rows, rows + n);
      } else if (shift >= 0) {
        out.insert(out.end(), rows + rb * static_cast<size_t>(shift), rows + n);
      } else {
        for (int32_t r = 0; r < -shift; ++r)
          out.insert(out.end(), rows, rows + rb);
        out.insert(out.end(), rows, rows + n);
      }
    }
    at += 2 * n;
    if (seq.layer(i).sliding) {
      const int32_t first = moved, kept = seq.n_pos() - moved;
      std::memcpy(out.data() + 16 + 24 * i + 16, &first, 4);
      std::memcpy(out.data() + 16 + 24 * i + 20, &kept, 4);
    }
  }
  return out;
}

// Found by fuzz_kv_file: a snapshot whose sliding layers start above the window restored a
// cache missing positions the next token attends to; one starting below it restored rows that
// saved again as other bytes. Both are refused, naming the range; the canonical one restores.
TEST_F(KvResumeTest, SlidingLayersMustStartWhereTheWindowDoes) {
  const int32_t n = 100;
  auto src = pool(*models_[0]);
  fill(src.seq(0), n, 1);
  auto dst = pool(*models_[0]);
  runtime::SequenceKv& seq = dst.seq(1);
  ASSERT_TRUE(runtime::kv_snapshot_restore(seq, snapshot_with_sliding_shift(src.seq(0), 0)).ok());
  EXPECT_EQ(seq.n_pos(), n);
  for (int32_t shift : {2, 5, -1, -3}) {
    const Status st =
        runtime::kv_snapshot_restore(seq, snapshot_with_sliding_shift(src.seq(0), shift));
    ASSERT_FALSE(st.ok()) << "shift " << shift;
    EXPECT_NE(st.error().message.find("sliding_from"), std::string::npos) << st.error().message;
    EXPECT_EQ(seq.n_pos(), 0) << "shift " << shift;
  }
  // Reserved fields must be zero, or the restored cache would not save as the same bytes.
  for (size_t at : {size_t{12}, size_t{16 + 2}}) {
    std::vector<uint8_t> snap = snapshot_with_sliding_shift(src.seq(0), 0);
    snap[at] = 0x7f;
    const Status st = runtime::kv_snapshot_restore(seq, snap);
    ASSERT_FALSE(st.ok()) << "byte " << at;
    EXPECT_NE(st.error().message.find("reserved"), std::string::npos) << st.error().message;
  }
}

TEST_F(KvResumeTest, AnotherModelFileIsARePrefill) {
  save_a(40);
  auto p = pool(*models_[1]);
  KvResume resume(*store_);
  EXPECT_TRUE(resume.restore(*models_[1], p.seq(0), "s1", ids(41)).empty());
  EXPECT_EQ(p.seq(0).n_pos(), 0);
  store_->flush();
  EXPECT_EQ(store_->stats().rejected, 1u);
  EXPECT_EQ(store_->stats().files, 0u);  // a file that cannot serve is deleted
}

TEST_F(KvResumeTest, TheSameFileRewrittenIsARePrefill) {
  save_a(40);
  // Same path, same bytes, a newer mtime: the identity includes the mtime.
  const timespec later[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 5, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, dir_.file("a.gguf").c_str(), later, 0), 0);
  auto m = LoadedModel::load("a", dir_.file("a.gguf"), 512);
  ASSERT_TRUE(m.ok());
  auto p = pool(**m);
  EXPECT_TRUE(KvResume(*store_).restore(**m, p.seq(0), "s1", ids(41)).empty());
}

TEST_F(KvResumeTest, AnotherKvTypeIsARePrefill) {
  save_a(40);
  auto p = pool(*models_[0], runtime::KvType::kQ8);
  EXPECT_TRUE(KvResume(*store_).restore(*models_[0], p.seq(0), "s1", ids(41)).empty());
  EXPECT_EQ(store_->stats().rejected, 1u);
}

TEST_F(KvResumeTest, OneCorruptedByteAnywhereIsARePrefill) {
  save_a(40);
  const std::string f = only_file();
  const auto size = fs::file_size(f);
  std::vector<uint8_t> orig(size);
  {
    std::ifstream in(f, std::ios::binary);
    in.read(reinterpret_cast<char*>(orig.data()), static_cast<std::streamsize>(size));
  }
  // A byte of the head, of the token ids, of the rows, of the final checksum.
  for (size_t at : {size_t{9}, size_t{100}, size / 2, size - 1}) {
    std::vector<uint8_t> bad = orig;
    bad[at] ^= 0x40;
    auto r = decode_kv_file(bad);
    EXPECT_FALSE(r.ok()) << "byte " << at;
  }
  std::vector<uint8_t> bad = orig;
  bad[size / 2] ^= 1;
  {
    std::ofstream out(f, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(size));
  }
  auto p = pool(*models_[0]);
  EXPECT_TRUE(KvResume(*store_).restore(*models_[0], p.seq(0), "s1", ids(41)).empty());
  EXPECT_EQ(p.seq(0).n_pos(), 0);
}

TEST_F(KvResumeTest, ATruncatedFileIsARePrefill) {
  save_a(40);
  const std::string f = only_file();
  std::vector<uint8_t> all(fs::file_size(f));
  {
    std::ifstream in(f, std::ios::binary);
    in.read(reinterpret_cast<char*>(all.data()), static_cast<std::streamsize>(all.size()));
  }
  for (size_t n = 0; n < all.size(); n += 97)
    EXPECT_FALSE(decode_kv_file(std::span(all.data(), n)).ok()) << n;
  fs::resize_file(f, all.size() / 2);
  auto p = pool(*models_[0]);
  EXPECT_TRUE(KvResume(*store_).restore(*models_[0], p.seq(0), "s1", ids(41)).empty());
}

TEST_F(KvResumeTest, APromptThatDoesNotContinueTheTokensIsARePrefill) {
  save_a(40);
  auto p = pool(*models_[0]);
  EXPECT_TRUE(KvResume(*store_).restore(*models_[0], p.seq(0), "s1", ids(41, 6)).empty());
  EXPECT_EQ(p.seq(0).n_pos(), 0);
}

TEST_F(KvResumeTest, TheHeadCarriesTheTokensTheTailAndTheTag) {
  const std::vector<int32_t> tokens = save_a(30);
  auto h = store_->load_head("s1");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->tokens, tokens);
  EXPECT_EQ(h->tail, std::vector<int32_t>{9});
  EXPECT_EQ(h->tag, "a\n1\n0");
  EXPECT_EQ(h->fair_key, "1000:app");
  EXPECT_EQ(h->kv_type, "f16");
}

TEST_F(KvResumeTest, RemoveDeletesTheFileAndRefusesLaterSaves) {
  save_a(30);
  store_->remove("s1");
  store_->flush();
  EXPECT_EQ(store_->stats().files, 0u);
  save_a(30);
  EXPECT_EQ(store_->stats().files, 0u);
  EXPECT_FALSE(store_->load("s1").ok());
}

TEST_F(KvResumeTest, BoundsEvictTheLeastRecentlyUsedFilesPerAppAndOverall) {
  store_.reset();
  auto p = pool(*models_[0]);
  fill(p.seq(0), 40, 1);
  const std::vector<int32_t> t = ids(40);
  KvFileHead h;
  const uint64_t one = encode_kv_file(h, p.seq(0)).size();
  // Two files per app, three overall.
  store_ = open_store({.max_bytes = 3 * one + one / 2, .max_bytes_per_app = 2 * one + one / 2});
  KvResume resume(*store_);
  auto save = [&](const std::string& key, const std::string& app) {
    resume.save(*models_[0], p.seq(0), SlotNote{key, app, "", t, {}});
    store_->flush();
  };
  save("x1", "app-x");
  save("x2", "app-x");
  ASSERT_TRUE(store_->load("x1").ok());  // x1 is now the more recently used
  save("x3", "app-x");
  EXPECT_TRUE(store_->load("x1").ok());
  EXPECT_EQ(store_->load("x2").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->load("x3").ok());
  save("y1", "app-y");
  save("y2", "app-y");  // four files: the oldest overall goes
  EXPECT_EQ(store_->stats().files, 3u);
  EXPECT_EQ(store_->load("x1").error().code, ErrorCode::kNotFound);
  // The order survives a restart (mtimes).
  store_.reset();
  store_ = open_store({.max_bytes = 3 * one + one / 2, .max_bytes_per_app = 2 * one + one / 2});
  EXPECT_EQ(store_->stats().files, 3u);
  EXPECT_LE(store_->stats().bytes, 3 * one + one / 2);
}

TEST_F(KvResumeTest, RefusesADirectoryThatIsNotPrivateOrIsASymlink) {
  store_.reset();
  ASSERT_EQ(::chmod(dir_.file("kv").c_str(), 0755), 0);
  EXPECT_EQ(KvStore::open({.dir = dir_.file("kv")}).error().code, ErrorCode::kPermissionDenied);
  ASSERT_EQ(::chmod(dir_.file("kv").c_str(), 0700), 0);
  fs::create_symlink(dir_.file("kv"), dir_.file("link"));
  EXPECT_FALSE(KvStore::open({.dir = dir_.file("link")}).ok());
}

TEST_F(KvResumeTest, NeverReadsThroughASymlinkedFile) {
  save_a(30);
  const std::string f = only_file();
  const std::string target = dir_.file("elsewhere.kv");
  fs::rename(f, target);
  fs::create_symlink(target, f);
  store_.reset();
  store_ = open_store({});  // the scan ignores it
  EXPECT_EQ(store_->stats().files, 0u);
  auto p = pool(*models_[0]);
  EXPECT_TRUE(KvResume(*store_).restore(*models_[0], p.seq(0), "s1", ids(31)).empty());
}

TEST(UnfedTail, IsWhatFollowsTheKvOrNothingWhenItDiverges) {
  const std::vector<int32_t> prompt = {1, 2, 3}, gen = {4, 5};
  EXPECT_EQ(unfed_tail(std::vector<int32_t>{1, 2, 3, 4}, prompt, gen), std::vector<int32_t>{5});
  EXPECT_EQ(unfed_tail(std::vector<int32_t>{1, 2, 3, 4, 5}, prompt, gen), std::vector<int32_t>{});
  EXPECT_FALSE(unfed_tail(std::vector<int32_t>{1, 9}, prompt, gen).has_value());
}

}  // namespace
}  // namespace gemmad::daemon
