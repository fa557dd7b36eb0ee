// The scheduler's side of saved KV (docs/KV_CACHE.md "Saved KV"): turns a sequence slot that
// leaves memory into a file for the KvStore, and a file back into a slot when its session
// continues, after checking that it was made with the same model file and KV type and holds
// a prefix of the new prompt. Any mismatch is a log line and a re-prefill, never wrong output.
//
// Thread safety: the inference thread only (the store does its own locking).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/kv_file.h"
#include "daemon/kv_store.h"
#include "runtime/kv_cache.h"

namespace gemmad::daemon {

struct LoadedModel;

// What the scheduler knows of a slot besides its KV.
struct SlotNote {
  std::string cache_key, fair_key, tag;
  std::span<const int32_t> tokens;  // what the KV holds
  std::span<const int32_t> tail;    // generated after them, never fed
};

class KvResume {
 public:
  explicit KvResume(KvStore& store) : store_(store) {}

  // Queues the slot's file (nothing for an empty or stateless slot).
  void save(const LoadedModel& model, const runtime::SequenceKv& seq, const SlotNote& note);
  // Restores the saved KV of `cache_key` into `seq` (cleared first) when it matches and its
  // tokens share at least one position with `prompt`; returns the tokens it holds (empty: none).
  std::vector<int32_t> restore(const LoadedModel& model, runtime::SequenceKv& seq,
                               const std::string& cache_key, std::span<const int32_t> prompt);
  uint64_t restored() const { return restored_; }

 private:
  const ModelIdentity* identity(const LoadedModel& model);

  KvStore& store_;
  std::map<const LoadedModel*, std::optional<ModelIdentity>> ids_;
  uint64_t restored_ = 0;
};

// The tokens of prompt + generated that follow what the KV holds (`held`), or nullopt when
// `held` is not a prefix of them.
std::optional<std::vector<int32_t>> unfed_tail(std::span<const int32_t> held,
                                               std::span<const int32_t> prompt,
                                               std::span<const int32_t> generated);

// Whether `key` names a stored session (stateless requests' keys are not saved).
bool is_saved_cache_key(const std::string& key);

}  // namespace gemmad::daemon
