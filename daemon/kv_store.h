// Saved KV files in the state directory (docs/KV_CACHE.md "Saved KV"): where a session's KV
// goes when it leaves memory, so the session continues without a re-prefill, also after a
// restart. One file per cache key, named by hashes of the app and the key; bounded in bytes
// per app and overall (least recently used files go first); written by a thread of its own
// (tmp file, fsync, rename, fsync of the directory), so neither the io thread nor the
// inference thread waits for the disk. Only regular files of the daemon's uid in a 0700
// directory of its uid are read, never through a symlink, and their size is checked before
// they are read.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "daemon/kv_file.h"

namespace gemmad::daemon {

struct KvStoreOptions {
  std::string dir;                          // created 0700 if missing
  uint64_t max_bytes = 4ull << 30;          // all files together
  uint64_t max_bytes_per_app = 1ull << 30;  // the files of one app (fair key)
};

struct KvStoreStats {
  uint64_t files = 0, bytes = 0;
  uint64_t saved = 0, rejected = 0, evicted = 0;
};

class KvStore {
 public:
  // Errors: the directory is not ours, not 0700, a symlink, or cannot be made.
  static Result<std::unique_ptr<KvStore>> open(KvStoreOptions options);
  ~KvStore();  // writes what is queued, then stops
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Queues the file of `cache_key` (replacing an older one). Dropped, with a log line, when it
  // exceeds a bound by itself or the key was removed.
  void save(const std::string& cache_key, const std::string& fair_key, std::vector<uint8_t> bytes);
  // The file's bytes (a queued one if not yet written). kNotFound when there is none; any
  // other error (not ours, too large, unreadable) is logged, counted and the file deleted.
  Result<std::vector<uint8_t>> load(const std::string& cache_key);
  // The head of the file only (checked with its own checksum).
  Result<KvFileHead> load_head(const std::string& cache_key);
  // Deletes the file and refuses later saves of the key (a deleted session).
  void remove(const std::string& cache_key);
  // A file that failed its checks: deleted, counted.
  void reject(const std::string& cache_key, const std::string& why);
  // Waits until every queued write is on disk.
  void flush();
  KvStoreStats stats() const;

 private:
  struct Entry {
    std::string name;
    std::string app;  // hash of the fair key, as in the name
    uint64_t bytes = 0;
    uint64_t last_used = 0;
  };
  struct Task {
    std::string key;  // hash of the cache key
    std::string app;
    std::shared_ptr<const std::vector<uint8_t>> bytes;  // null: delete
  };

  KvStore(KvStoreOptions options, int dir_fd);
  void scan();
  void run();
  void write_file(const Task& t);
  void unlink_locked(const std::string& key);
  void enforce_bounds_locked(const std::string& keep);
  Result<int> open_checked(const std::string& key, uint64_t& size);

  KvStoreOptions opts_;
  int dir_fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Task> tasks_;
  std::map<std::string, std::shared_ptr<const std::vector<uint8_t>>> pending_;  // key -> bytes
  std::map<std::string, Entry> files_;                                          // key -> file
  std::set<std::string> removed_;
  uint64_t clock_ = 0;
  bool busy_ = false;
  bool stop_ = false;
  KvStoreStats stats_;
  std::thread thread_;
};

// The hash naming a key in file names (16 hex digits).
std::string kv_store_key(const std::string& s);

}  // namespace gemmad::daemon
