// An exclusive lock on a session database for the life of one daemon, so that a second gemmad
// pointed at the same file refuses to start instead of sharing it (its in-memory session
// cache and turn bookkeeping assume it is the only writer).
#pragma once

#include <string>

#include "common/result.h"

namespace gemmad::store {

class DatabaseLock {
 public:
  // Takes flock(LOCK_EX) on "<database_path>.lock" (created 0600) without waiting and writes
  // this process's pid into it. kResourceExhausted naming the database, the lock file and the
  // holder's pid when another process holds it; kIo when the file cannot be created.
  static Result<DatabaseLock> acquire(const std::string& database_path);

  DatabaseLock(DatabaseLock&& other) noexcept;
  DatabaseLock& operator=(DatabaseLock&&) = delete;
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;
  // Releases the lock (the kernel also does when the process dies, even by SIGKILL).
  ~DatabaseLock();

  const std::string& path() const { return path_; }

 private:
  DatabaseLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace gemmad::store
