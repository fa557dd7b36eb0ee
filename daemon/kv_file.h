// The saved-KV file (docs/KV_CACHE.md "Saved KV"): a head naming the model file, the KV type,
// the session and the token ids the KV holds, with its own checksum; the snapshot of the rows
// (runtime/kv_snapshot.h); a checksum over everything. Decoding checks every count against
// the bytes present before using it, so a hostile or torn file is an error, never a crash.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/kv_cache.h"

namespace gemmad::daemon {

struct LoadedModel;

// Which model file a KV was computed with: a different file (or the same path rewritten)
// gives a different identity.
struct ModelIdentity {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t header_hash = 0;  // kv_checksum of the GGUF header and tensor table
  bool operator==(const ModelIdentity&) const = default;
};

Result<ModelIdentity> model_identity(const LoadedModel& model);

struct KvFileHead {
  ModelIdentity model;
  std::string kv_type;          // runtime::kv_types_name of the cache
  std::string cache_key;        // the session id (the scheduler's cache key)
  std::string fair_key;         // the app it belongs to (bounds per app)
  std::string tag;              // the owner's note (turn_service: model, turns, turns left out)
  std::vector<int32_t> tokens;  // what the KV holds, position by position (n_pos of them)
  std::vector<int32_t> tail;    // generated after them but never fed (the owner's continuation)
};

inline constexpr uint32_t kKvFileVersion = 1;
inline constexpr uint32_t kKvFileMaxString = 4096;
inline constexpr uint64_t kKvFileMaxHead = 16u << 20;

std::vector<uint8_t> encode_kv_file(const KvFileHead& head, const runtime::SequenceKv& seq);

// The head alone (its own checksum verified); the rows are not read.
Result<KvFileHead> decode_kv_head(std::span<const uint8_t> bytes);

struct KvFileView {
  KvFileHead head;
  std::span<const uint8_t> snapshot;  // into the decoded bytes
};
// The whole file, both checksums verified. Errors are kInvalidArgument naming the field.
Result<KvFileView> decode_kv_file(std::span<const uint8_t> bytes);

}  // namespace gemmad::daemon
