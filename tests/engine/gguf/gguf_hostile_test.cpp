// Tests of GgufFile on broken and hostile bytes: each must give a kBadModelFile error that
// names the file, the key or tensor, and the problem; none may crash or allocate wildly.
#include <gtest/gtest.h>

#include <fstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf_bytes.h"
#include "temp_dir.h"

namespace gemmad::gguf {
namespace {

using testing::GgufBytes;

// A small valid file: keys of several types, two tensors, last tensor ending at EOF.
GgufBytes small_file() {
  GgufBytes b;
  b.header(2, 4);
  b.key("general.architecture", 8).str("gemma4");
  b.key("gemma4.block_count", 4).u32(2);
  b.key("gemma4.feed_forward_length", 9).u32(5).u64(2).pod<int32_t>(64).pod<int32_t>(128);
  b.key("tokenizer.ggml.tokens", 9).u32(8).u64(3).str("<pad>").str("<eos>").str("a");
  b.tensor_info("a", {8}, 0, 0);       // f32, 32 bytes
  b.tensor_info("b", {32, 2}, 0, 32);  // f32, 256 bytes
  b.pad_to(32);
  b.zeros(32 + 256);
  return b;
}

// Parses and expects a bad-model-file error whose message contains every `parts`.
void expect_error(const GgufBytes& b, std::initializer_list<std::string_view> parts) {
  auto r = GgufFile::parse(b.bytes, "bad.gguf");
  ASSERT_FALSE(r.ok()) << "parsed";
  EXPECT_EQ(r.error().code, ErrorCode::kBadModelFile);
  const std::string& m = r.error().message;
  EXPECT_EQ(m.rfind("bad.gguf: ", 0), 0u) << m;
  for (std::string_view p : parts)
    EXPECT_NE(m.find(p), std::string::npos) << m;
}

TEST(GgufHostile, TheSmallFileIsValid) {
  const GgufBytes b = small_file();
  EXPECT_TRUE(GgufFile::parse(b.bytes, "ok").ok());
}

TEST(GgufHostile, EveryTruncatedPrefixIsAnError) {
  const GgufBytes b = small_file();
  for (size_t n = 0; n < b.bytes.size(); ++n) {
    auto r = GgufFile::parse(std::span<const uint8_t>(b.bytes.data(), n), "cut.gguf");
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(r.error().code, ErrorCode::kBadModelFile);
  }
}

TEST(GgufHostile, EveryTruncatedPrefixOfAWrittenFileIsAnError) {
  // Same through the writer and open(): a file cut short on disk (e.g. a partial download).
  testing::TempDir dir;
  GgufWriter w;
  w.set_string("general.architecture", "gemma4");
  const std::string toks[] = {"x", "yy"};
  w.set_string_array("tokenizer.ggml.tokens", toks);
  w.add_tensor("t", quant::GgmlType::kQ8_0, {32, 16}, nullptr);  // 544 bytes = 17 * 32
  const std::string path = dir.file("w.gguf");
  ASSERT_TRUE(w.write(path).ok());
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  ASSERT_TRUE(GgufFile::parse(bytes).ok());
  for (size_t n = 0; n < bytes.size(); ++n) {
    ASSERT_FALSE(GgufFile::parse(std::span<const uint8_t>(bytes.data(), n)).ok()) << n;
  }
  // And through open(): the last byte cut off on disk.
  const std::string cut = dir.file("cut.gguf");
  std::ofstream(cut, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size() - 1));
  auto r = GgufFile::open(cut);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(cut + ": tensor 't'"), std::string::npos) << r.error().message;
}

TEST(GgufHostile, RejectsAnEmptyFileOnDisk) {
  testing::TempDir dir;
  const std::string path = dir.file("empty.gguf");
  std::ofstream(path).close();
  auto r = GgufFile::open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadModelFile);
}

TEST(GgufHostile, RejectsBadMagic) {
  GgufBytes b = small_file();
  b.bytes[0] = 'g';
  expect_error(b, {"bad magic 'gGUF'"});
}

TEST(GgufHostile, RejectsOtherVersionsNamingThem) {
  GgufBytes b;
  b.header(0, 0, /*version=*/2);
  expect_error(b, {"GGUF version 2 is not supported"});
}

TEST(GgufHostile, RejectsAKvCountTheFileCannotHold) {
  GgufBytes b;
  b.header(0, uint64_t{1} << 60);
  b.zeros(100 - b.bytes.size());
  expect_error(b, {"kv_count 1152921504606846976 exceeds what a 100-byte file can hold"});
}

TEST(GgufHostile, RejectsATensorCountTheFileCannotHold) {
  GgufBytes b;
  b.header(UINT64_MAX, 0);
  b.zeros(64);
  expect_error(b, {"tensor_count 18446744073709551615 exceeds"});
}

TEST(GgufHostile, RejectsCountsAboveTheAbsoluteLimitsEvenIfTheFileCouldHoldThem) {
  // 2^20 + 1 keys of at least 13 bytes fit in this 14 MB file, but parsed keys take ~10x their
  // encoding in memory, so counts are also capped at 2^20.
  GgufBytes b;
  b.header(0, (uint64_t{1} << 20) + 1);
  b.zeros(14u << 20);
  expect_error(b, {"kv_count 1048577 exceeds the limit 1048576"});
  GgufBytes c;
  c.header((uint64_t{1} << 20) + 1, 0);
  c.zeros(34u << 20);
  expect_error(c, {"tensor_count 1048577 exceeds the limit 1048576"});
}

TEST(GgufHostile, ArrayGettersRefuseArraysFarLargerThanAnyRealKey) {
  // A valid 16 MB u8 array would become 128 MB of int64 in get_int_array: refused.
  GgufBytes b;
  b.header(0, 1);
  b.key("gemma4.feed_forward_length", 9).u32(0).u64((uint64_t{1} << 24) + 1);
  b.zeros((size_t{1} << 24) + 1);
  auto f = GgufFile::parse(b.bytes, "big.gguf");
  ASSERT_TRUE(f.ok()) << f.error().message;
  const auto r = (*f)->get_int_array("gemma4.feed_forward_length");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("16777217 elements, more than the limit 16777216"),
            std::string::npos)
      << r.error().message;
}

TEST(GgufHostile, RejectsAnArrayCountTheFileCannotHold) {
  GgufBytes b;
  b.header(0, 1);
  b.key("tokenizer.ggml.tokens", 9).u32(8).u64(uint64_t{1} << 62);
  b.zeros(64);
  expect_error(b, {"key 'tokenizer.ggml.tokens'", "array count 4611686018427387904"});
  GgufBytes c;
  c.header(0, 1);
  c.key("scores", 9).u32(6).u64(17);  // 17 floats need 68 bytes
  c.zeros(64);
  expect_error(c, {"key 'scores'", "array count 17"});
}

TEST(GgufHostile, RejectsStringLengthsPastTheEnd) {
  GgufBytes b;
  b.header(0, 1);
  b.key("general.name", 8).u64(1000).zeros(10);
  expect_error(b, {"key 'general.name'", "string length 1000"});
  GgufBytes c;
  c.header(0, 1);
  c.key("tokenizer.ggml.tokens", 9).u32(8).u64(2).str("ok").u64(UINT64_MAX);
  expect_error(c, {"key 'tokenizer.ggml.tokens'", "element 1", "18446744073709551615"});
  GgufBytes d;
  d.header(0, 1).u64(500).zeros(20);  // key name length
  expect_error(d, {"key 0 name", "string length 500"});
}

TEST(GgufHostile, RejectsNestedArrays) {
  GgufBytes b;
  b.header(0, 1);
  b.key("nested", 9).u32(9).u64(1).u32(4).u64(1).u32(0);
  expect_error(b, {"key 'nested': nested arrays are not supported"});
}

TEST(GgufHostile, RejectsUnknownValueTypes) {
  GgufBytes b;
  b.header(0, 1);
  b.key("k", 13).u32(0);
  expect_error(b, {"key 'k': unknown value type 13"});
  GgufBytes c;
  c.header(0, 1);
  c.key("k", 9).u32(99).u64(0);
  expect_error(c, {"key 'k': unknown array element type 99"});
}

TEST(GgufHostile, RejectsDuplicateKeys) {
  GgufBytes b;
  b.header(0, 2);
  b.key("general.name", 8).str("a");
  b.key("general.name", 8).str("b");
  expect_error(b, {"key 'general.name' appears twice"});
}

TEST(GgufHostile, RejectsBadAlignments) {
  for (uint32_t a : {0u, 48u, 1u << 21}) {
    GgufBytes b;
    b.header(0, 1);
    b.key("general.alignment", 4).u32(a);
    expect_error(b, {"general.alignment", std::to_string(a), "power of two"});
  }
  GgufBytes b;
  b.header(0, 1);
  b.key("general.alignment", 10).u64(32);
  expect_error(b, {"general.alignment", "type u64, expected u32"});
}

// A file with one tensor info `ne`, `type`, `offset` and enough data after it.
GgufBytes one_tensor(std::vector<uint64_t> ne, uint32_t type, uint64_t offset = 0,
                     size_t data = 256) {
  GgufBytes b;
  b.header(1, 0);
  b.tensor_info("blk.0.attn_q.weight", std::move(ne), type, offset);
  b.pad_to(32);
  b.zeros(data);
  return b;
}

TEST(GgufHostile, RejectsUnknownTensorTypes) {
  expect_error(one_tensor({32}, 9999), {"tensor 'blk.0.attn_q.weight'", "ggml type id 9999"});
}

TEST(GgufHostile, RejectsRowsThatAreNotWholeBlocks) {
  expect_error(one_tensor({48, 2}, 2),
               {"tensor 'blk.0.attn_q.weight'", "ne[0] = 48", "q4_0 block size 32"});
}

TEST(GgufHostile, RejectsBadDimensions) {
  expect_error(one_tensor({}, 0), {"n_dims 0 is outside [1, 4]"});
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0), {"n_dims 5 is outside [1, 4]"});
  expect_error(one_tensor({4, 0}, 0), {"ne[1] is 0"});
}

TEST(GgufHostile, RejectsElementCountsThatOverflow) {
  expect_error(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0),
               {"tensor 'blk.0.attn_q.weight'", "element count overflows"});
  // 2^62 f64 elements fit in 63 bits but their bytes (2^62 * 8 = 2^65) do not fit in 64.
  expect_error(one_tensor({uint64_t{1} << 62}, 28), {"byte size overflows"});
}

TEST(GgufHostile, RejectsMisalignedOffsets) {
  expect_error(one_tensor({8}, 0, 4), {"offset 4 is not a multiple of the alignment 32"});
}

TEST(GgufHostile, RejectsTensorDataPastTheEnd) {
  expect_error(one_tensor({65}, 0, 0, 256), {"tensor 'blk.0.attn_q.weight'", "runs past"});
  expect_error(one_tensor({8}, 0, uint64_t{1} << 63, 256), {"runs past"});
  expect_error(one_tensor({8}, 0, UINT64_MAX - 31, 256), {"runs past"});
}

TEST(GgufHostile, RejectsOverlappingTensors) {
  GgufBytes b;
  b.header(2, 0);
  b.tensor_info("x", {16}, 0, 0);  // [0, 64)
  b.tensor_info("y", {8}, 0, 32);  // [32, 64)
  b.pad_to(32);
  b.zeros(64);
  expect_error(b, {"tensor 'x'", "overlaps tensor 'y'"});
}

TEST(GgufHostile, RejectsDuplicateTensorNames) {
  GgufBytes b;
  b.header(2, 0);
  b.tensor_info("x", {8}, 0, 0);
  b.tensor_info("x", {8}, 0, 32);
  b.pad_to(32);
  b.zeros(64);
  expect_error(b, {"tensor 'x' appears twice"});
}

TEST(GgufHostile, RejectsEditedBytesOfAWrittenFile) {
  // Write a valid file, then patch the tensor's type id (the 4 bytes after its name, n_dims
  // and ne) to 9999.
  testing::TempDir dir;
  GgufWriter w;
  w.add_tensor("output_norm.weight", quant::GgmlType::kF32, {64}, nullptr);
  const std::string path = dir.file("w.gguf");
  ASSERT_TRUE(w.write(path).ok());
  std::ifstream in(path, std::ios::binary);
  GgufBytes b;
  b.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const std::string name = "output_norm.weight";
  const auto it = std::search(b.bytes.begin(), b.bytes.end(), name.begin(), name.end());
  ASSERT_NE(it, b.bytes.end());
  const size_t type_at = static_cast<size_t>(it - b.bytes.begin()) + name.size() + 4 + 8;
  ASSERT_EQ(b.bytes[type_at], 0);  // f32
  b.bytes[type_at] = 0x0F;         // 9999 = 0x270F, little-endian
  b.bytes[type_at + 1] = 0x27;
  expect_error(b, {"tensor 'output_norm.weight'", "unknown ggml type id 9999"});
}

TEST(GgufHostile, ShowsAtMost80BytesOfAHostileName) {
  GgufBytes b;
  b.header(1, 0);
  b.tensor_info(std::string(5000, 'n'), {8}, 12345, 0);
  b.pad_to(32);
  b.zeros(32);
  auto r = GgufFile::parse(b.bytes, "bad.gguf");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().message.size(), 200u);
  EXPECT_NE(r.error().message.find("..."), std::string::npos);
}

}  // namespace
}  // namespace gemmad::gguf
