// The safetensors header parser against hostile headers (each a clear error naming the field),
// a valid file through SafetensorsFile, and checkpoint directories: single-file, sharded
// through model.safetensors.index.json, and an index naming a file outside the directory.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "import/checkpoint.h"
#include "import/safetensors.h"
#include "tests/common/temp_dir.h"

namespace gemmad::import {
namespace {

using gemmad::testing::TempDir;

std::vector<uint8_t> file_bytes(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out(8 + header.size() + data_bytes, 0);
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

Result<std::vector<StTensor>> parse(const std::string& header, size_t data_bytes) {
  const std::vector<uint8_t> b = file_bytes(header, data_bytes);
  return parse_safetensors_header(b, b.size(), "t.safetensors");
}

void expect_error(const std::string& header, size_t data, const std::string& fragment) {
  auto r = parse(header, data);
  ASSERT_FALSE(r.ok()) << header;
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(SafetensorsHeader, ParsesTensorsAndMetadata) {
  auto r = parse(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],)"
                 R"("data_offsets":[0,12]},"b":{"dtype":"U8","shape":[],"data_offsets":[12,13]}})",
                 13);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "a");
  EXPECT_EQ((*r)[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ((*r)[1].n_elements(), 1u);
}

TEST(SafetensorsHeader, RejectsHostileHeadersByField) {
  // Length beyond the file.
  {
    std::vector<uint8_t> b = file_bytes("{}", 0);
    const uint64_t huge = 1ull << 40;
    std::memcpy(b.data(), &huge, 8);
    auto r = parse_safetensors_header(b, b.size(), "t");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("header length"), std::string::npos);
  }
  expect_error("{not json", 0, "not valid JSON");
  expect_error("[1,2]", 0, "not a JSON object");
  expect_error(R"({"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}})", 1, "unknown dtype 'Q9'");
  expect_error(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "shape");
  expect_error(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4,
               "dimensions");
  expect_error(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})",
               4, "overflows");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8, "needs 8");
  expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4,
               "outside the data section");
  expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4,
               "outside the data section");
  expect_error(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
               R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})",
               4, "overlap");
  expect_error(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", 1, "'dtype'");
  expect_error(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1, "data_offsets");
  expect_error(R"({"__metadata__":{"k":1}})", 0, "__metadata__.k");
}

void write_file(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_text(const std::string& path, const std::string& s) {
  std::ofstream(path) << s;
}

std::vector<uint8_t> one_tensor(const std::string& name, float v) {
  std::vector<uint8_t> b =
      file_bytes(R"({")" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  std::memcpy(b.data() + b.size() - 4, &v, 4);
  return b;
}

TEST(Checkpoint, OpensShardsThroughTheIndex) {
  TempDir dir;
  write_text(dir.file("config.json"), "{}");
  write_file(dir.file("a.safetensors"), one_tensor("x", 1.5f));
  write_file(dir.file("b.safetensors"), one_tensor("y", 2.5f));
  write_text(dir.file("model.safetensors.index.json"),
             R"({"weight_map":{"x":"a.safetensors","y":"b.safetensors"}})");
  auto ck = Checkpoint::open(dir.file("."));
  ASSERT_TRUE(ck.ok()) << ck.error().message;
  EXPECT_EQ((*ck)->shard_count(), 2u);
  const StTensor* y = (*ck)->find("y");
  ASSERT_NE(y, nullptr);
  float v = 0;
  std::memcpy(&v, y->bytes.data(), 4);
  EXPECT_EQ(v, 2.5f);
}

TEST(Checkpoint, RejectsAnIndexEscapingTheDirectoryOrLying) {
  TempDir dir;
  write_text(dir.file("config.json"), "{}");
  write_file(dir.file("a.safetensors"), one_tensor("x", 1.0f));
  write_text(dir.file("model.safetensors.index.json"),
             R"({"weight_map":{"x":"../a.safetensors"}})");
  auto r = Checkpoint::open(dir.file("."));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("not a file in the directory"), std::string::npos);
  write_text(dir.file("model.safetensors.index.json"),
             R"({"weight_map":{"x":"a.safetensors","z":"a.safetensors"}})");
  r = Checkpoint::open(dir.file("."));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'z'"), std::string::npos) << r.error().message;
}

TEST(Checkpoint, NeedsConfigAndWeights) {
  TempDir dir;
  EXPECT_FALSE(Checkpoint::open(dir.file(".")).ok());
  write_text(dir.file("config.json"), "{}");
  auto r = Checkpoint::open(dir.file("."));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace gemmad::import
