// Tests of GgufWriter: what it writes is read back by GgufFile (metadata of every kind,
// tensors streamed from fill callbacks, alignment), atomically.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf_bytes.h"
#include "temp_dir.h"

namespace gemmad::gguf {
namespace {

using quant::GgmlType;
using testing::TempDir;

std::unique_ptr<GgufFile> open_ok(const std::string& path) {
  auto r = GgufFile::open(path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(GgufWriter, RoundTripsEveryValueItCanSet) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  GgufWriter w;
  w.set_u32("u32", 7);
  w.set_i32("i32", -7);
  w.set_u64("u64", uint64_t{1} << 40);
  w.set_f32("f32", -0.125f);
  w.set_bool("bool", true);
  w.set_string("str", "gemma4");
  const int32_t i32s[] = {6144, -1, 12288};
  w.set_i32_array("i32s", i32s);
  const uint32_t u32s[] = {1, 2};
  w.set_u32_array("u32s", u32s);
  const float f32s[] = {-1000.0f, 0.5f};
  w.set_f32_array("f32s", f32s);
  const bool bools[] = {true, false, false, true};
  w.set_bool_array("bools", bools);
  const std::string strs[] = {"<pad>", "", "hello world"};
  w.set_string_array("strs", strs);
  const std::string path = dir.file("kv.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->metadata().size(), 11u);
  EXPECT_EQ(f->find("u32")->type, ValueType::kU32);
  EXPECT_EQ(*f->get_uint("u32"), 7u);
  EXPECT_EQ(f->find("i32")->type, ValueType::kI32);
  EXPECT_EQ(*f->get_int("i32"), -7);
  EXPECT_EQ(f->find("u64")->type, ValueType::kU64);
  EXPECT_EQ(*f->get_uint("u64"), uint64_t{1} << 40);
  EXPECT_EQ(*f->get_float("f32"), -0.125f);
  EXPECT_EQ(*f->get_bool("bool"), true);
  EXPECT_EQ(*f->get_string("str"), "gemma4");
  EXPECT_EQ(f->find("i32s")->array_type, ValueType::kI32);
  EXPECT_EQ(*f->get_int_array("i32s"), (std::vector<int64_t>{6144, -1, 12288}));
  EXPECT_EQ(f->find("u32s")->array_type, ValueType::kU32);
  EXPECT_EQ(*f->get_int_array("u32s"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(*f->get_float_array("f32s"), (std::vector<float>{-1000.0f, 0.5f}));
  EXPECT_EQ(*f->get_bool_array("bools"), (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(*f->get_string_array("strs"),
            (std::vector<std::string_view>{"<pad>", "", "hello world"}));
}

TEST(GgufWriter, CopiesKeysOfEveryTypeFromAFileBeingRead) {
  // Source: a hand-built file with the types the setters do not cover.
  testing::GgufBytes b;
  b.header(0, 7);
  b.key("u8", 0).pod<uint8_t>(9);
  b.key("i16", 3).pod<int16_t>(-3);
  b.key("i64", 11).pod<int64_t>(-5);
  b.key("f64", 12).pod<double>(2.5);
  b.key("s", 8).str("copied");
  b.key("strs", 9).u32(8).u64(2).str("x").str("yz");
  b.key("u16s", 9).u32(2).u64(2).pod<uint16_t>(1).pod<uint16_t>(65535);
  auto src = GgufFile::parse(b.bytes, "src");
  ASSERT_TRUE(src.ok());
  GgufWriter w;
  for (const KeyValue& kv : (*src)->metadata())
    w.copy_kv(kv);
  TempDir dir;
  const std::string path = dir.file("copy.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  for (const KeyValue& kv : (*src)->metadata()) {
    const KeyValue* got = f->find(kv.key);
    ASSERT_NE(got, nullptr) << kv.key;
    EXPECT_EQ(got->type, kv.type) << kv.key;
    EXPECT_EQ(format_value(*got), format_value(kv)) << kv.key;
  }
  EXPECT_EQ(*f->get_string("s"), "copied");
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_f32("a", 2.0f);
  TempDir dir;
  const std::string path = dir.file("re.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].key, "a");
  EXPECT_EQ(*f->get_float("a"), 2.0f);
}

TEST(GgufWriter, StreamsTensorsFromFillCallbacksAtAlignedOffsets) {
  GgufWriter w(64);
  w.set_string("general.architecture", "test");
  // f32 [3, 2] = 24 bytes; q4_0 [64, 3] = 6 blocks = 108 bytes; q6_K [256] = 210 bytes.
  w.add_tensor("a", GgmlType::kF32, {3, 2}, [](std::span<uint8_t> out) {
    ASSERT_EQ(out.size(), 24u);
    const float v[6] = {1, 2, 3, 4, 5, 6};
    std::memcpy(out.data(), v, sizeof v);
  });
  w.add_tensor("b", GgmlType::kQ4_0, {64, 3}, [](std::span<uint8_t> out) {
    ASSERT_EQ(out.size(), 108u);
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = static_cast<uint8_t>(i);
  });
  w.add_tensor("c", GgmlType::kQ6_K, {256}, [](std::span<uint8_t> out) {
    ASSERT_EQ(out.size(), 210u);
    out[0] = 0x11;
    out[209] = 0x22;
  });
  TempDir dir;
  const std::string path = dir.file("t.gguf");
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  ASSERT_TRUE(w.write(path, [&](uint64_t done, uint64_t total) {
                 progress.emplace_back(done, total);
               }).ok());
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  // Alignment 64 is not the default, so the writer records it.
  EXPECT_EQ(*f->get_uint("general.alignment"), 64u);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[0].name, "a");  // declared order
  const TensorInfo& a = *f->find_tensor("a");
  const TensorInfo& b = *f->find_tensor("b");
  const TensorInfo& c = *f->find_tensor("c");
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(b.offset, 64u);   // 24 bytes padded to 64
  EXPECT_EQ(c.offset, 192u);  // 64 + 108 padded to 192
  float av[6];
  std::memcpy(av, a.data, sizeof av);
  EXPECT_EQ(av[5], 6.0f);
  EXPECT_EQ(b.ne[1], 3u);
  EXPECT_EQ(b.data[107], 107);
  EXPECT_EQ(c.data[0], 0x11);
  EXPECT_EQ(c.data[209], 0x22);
  // The last tensor is padded too: the file ends on an aligned boundary.
  EXPECT_EQ(f->file_size(), f->data_offset() + 192 + 256);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress.back().first, progress.back().second);
  EXPECT_EQ(progress.back().second, 192u + 256u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufWriter, FillsLargeTensorsInChunksOfWholeRows) {
  // f32 rows of 1 MiB, 3 x 2 x 20 of them: 60 MiB, more than one chunk.
  constexpr uint64_t kCols = 256 * 1024;
  constexpr uint64_t kRowBytes = kCols * 4;
  GgufWriter w;
  w.set_string("general.architecture", "test");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  w.add_tensor_rows("big", GgmlType::kF32, {kCols, 3, 20},
                    [&](uint64_t r0, uint64_t r1, std::span<uint8_t> out) {
                      calls.emplace_back(r0, r1);
                      ASSERT_EQ(out.size(), (r1 - r0) * kRowBytes);
                      ASSERT_LE(out.size(), GgufWriter::kChunkBytes);
                      for (uint64_t r = r0; r < r1; ++r) {
                        const float v = static_cast<float>(r);
                        std::memcpy(out.data() + (r - r0) * kRowBytes, &v, sizeof v);
                      }
                    });
  TempDir dir;
  const std::string path = dir.file("big.gguf");
  ASSERT_TRUE(w.write(path).ok());
  // Increasing, contiguous, covering all 60 rows, more than once.
  ASSERT_GT(calls.size(), 1u);
  EXPECT_EQ(calls.front().first, 0u);
  EXPECT_EQ(calls.back().second, 60u);
  for (size_t i = 1; i < calls.size(); ++i)
    EXPECT_EQ(calls[i].first, calls[i - 1].second);
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  const TensorInfo& t = *f->find_tensor("big");
  for (uint64_t r = 0; r < 60; ++r) {
    float v;
    std::memcpy(&v, t.data + r * kRowBytes, sizeof v);
    EXPECT_EQ(v, static_cast<float>(r)) << "row " << r;
  }
}

TEST(GgufWriter, RejectsShapesTheReaderWouldReject) {
  TempDir dir;
  const std::string path = dir.file("bad.gguf");
  {
    GgufWriter w;
    w.add_tensor("x", GgmlType::kQ4_0, {48}, nullptr);  // 48 is not a multiple of 32
    const Status s = w.write(path);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("'x'"), std::string::npos);
  }
  {
    GgufWriter w;
    w.add_tensor("x", GgmlType::kF32, {4}, nullptr);
    w.add_tensor("x", GgmlType::kF32, {4}, nullptr);
    EXPECT_FALSE(w.write(path).ok());
  }
  {
    GgufWriter w;
    w.add_tensor("x", GgmlType::kF32, {1, 1, 1, 1, 1}, nullptr);
    EXPECT_FALSE(w.write(path).ok());
  }
  {
    GgufWriter w(48);
    EXPECT_FALSE(w.write(path).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufWriter, ReplacesAnExistingFileAtomically) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  { std::ofstream(path) << "old contents"; }
  GgufWriter w;
  w.set_u32("v", 2);
  ASSERT_TRUE(w.write(path).ok());
  auto f = open_ok(path);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->get_uint("v"), 2u);
}

TEST(GgufWriter, ReportsAnUnwritableDirectoryAsAnIoError) {
  GgufWriter w;
  const Status s = w.write("/nonexistent/dir/out.gguf");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace gemmad::gguf
