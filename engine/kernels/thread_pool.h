// A small fixed pool of worker threads for data-parallel kernels (rows of a matmul, heads of
// attention). One pool per engine; parallel_for blocks the caller, which works as thread 0.
// One caller at a time, and not re-entrant: do not call parallel_for from inside a task.
// Idle workers spin ~200 µs (decode issues calls back to back), then sleep on a futex; a call
// waits only for chunks that workers actually took (thread_pool.cpp).
#pragma once

#include <cstdint>
#include <functional>

namespace gemmad::kernels {

class ThreadPool {
 public:
  // n_threads >= 1 (including the caller). 0 = std::thread::hardware_concurrency().
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint chunks covering [0, n). Chunks are at
  // least `grain` long (the last may be shorter). Returns when every chunk is done.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
  int n_threads_;
};

}  // namespace gemmad::kernels
