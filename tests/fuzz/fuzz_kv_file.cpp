// libFuzzer target for saved KV files (daemon/kv_file.h, runtime/kv_snapshot.h): arbitrary
// bytes through the decoder and, when they decode, the restore into a tiny model's cache.
// Inputs that start with the magic get their two checksums recomputed first, so the fuzzer
// reaches the head and row parsers instead of stopping at the checksum. Nothing may crash;
// a rejected file must say why; a restored cache holds exactly the positions the file named.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "daemon/kv_checksum.h"
#include "daemon/kv_file.h"
#include "daemon/model_registry.h"
#include "runtime/kv_snapshot.h"
#include "synth/synth_model.h"

namespace {

using namespace gemmad;

runtime::KvCachePool& pool() {
  static std::unique_ptr<runtime::KvCachePool> p = [] {
    char tmpl[] = "/tmp/gemmad-fuzz-kv-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    if (!synth::write_synthetic_model({}, dir + "/tiny.gguf").ok()) std::abort();
    auto m = daemon::LoadedModel::load("tiny", dir + "/tiny.gguf", 256);
    if (!m.ok()) std::abort();
    return std::make_unique<runtime::KvCachePool>(
        (*m)->model->new_kv_pool({.n_ctx = 256, .type = {}, .n_seq = 1}));
  }();
  return *p;
}

// Recomputes the head checksum (with total_len read as 0) and the whole-file one.
void reseal(std::vector<uint8_t>& b) {
  if (b.size() < 32 || std::memcmp(b.data(), "GMDKVSAV", 8) != 0) return;
  uint32_t head_len = 0;
  std::memcpy(&head_len, b.data() + 12, 4);
  if (head_len >= 32 && head_len <= b.size() - 8) {
    std::vector<uint8_t> head(b.begin(), b.begin() + head_len - 8);
    std::memset(head.data() + 16, 0, 8);
    const uint64_t h = daemon::kv_checksum(head);
    std::memcpy(b.data() + head_len - 8, &h, 8);
  }
  const uint64_t total = b.size();
  std::memcpy(b.data() + 16, &total, 8);
  const uint64_t all = daemon::kv_checksum(std::span(b.data(), b.size() - 8));
  std::memcpy(b.data() + b.size() - 8, &all, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  reseal(bytes);
  auto file = daemon::decode_kv_file(bytes);
  if (!file.ok()) {
    if (file.error().message.empty()) __builtin_trap();
    return 0;
  }
  runtime::SequenceKv& seq = pool().seq(0);
  const Status st = runtime::kv_snapshot_restore(seq, file->snapshot);
  if (!st.ok()) {
    if (st.error().message.empty() || seq.n_pos() != 0) __builtin_trap();
    return 0;
  }
  if (seq.n_pos() <= 0 || static_cast<uint32_t>(seq.n_pos()) > seq.n_ctx()) __builtin_trap();
  // What was restored reads back as the same snapshot.
  std::vector<uint8_t> again;
  runtime::kv_snapshot_append(seq, again);
  if (again.size() != file->snapshot.size() ||
      std::memcmp(again.data(), file->snapshot.data(), again.size()) != 0) {
    __builtin_trap();
  }
  return 0;
}
