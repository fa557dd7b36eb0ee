// ThreadPool: fixed workers that spin briefly, then sleep on a futex, for low-latency dispatch.
//
// Decode issues hundreds of parallel_for calls per token, so the cost of one call matters
// (bench/matmul_bench.cpp measures it). Protocol:
//  - The caller publishes the job (fn, n, chunk size), then bumps `generation_` (seq_cst) and
//    wakes sleepers with FUTEX_WAKE only if `sleepers_` says someone sleeps.
//  - A worker that sees a new generation takes chunks from an atomic counter (dynamic
//    scheduling, so a descheduled worker on a shared machine does not stall the call), then
//    checks in on `checked_in_`. The caller returns only when every worker has checked in, so
//    the job it published is never read after parallel_for returns.
//  - An idle worker spins for ~kSpinTime, then increments `sleepers_`, re-checks the
//    generation and sleeps in FUTEX_WAIT on it. The seq_cst pair (caller: store generation,
//    load sleepers; worker: store sleepers, load generation) guarantees no lost wake-up.
#include "kernels/thread_pool.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <thread>
#include <vector>

namespace gemmad::kernels {
namespace {

// How long an idle worker spins before sleeping: covers the gap between two matmuls of one
// decode step (norms, RoPE, attention of a few µs) without burning a core while idle.
constexpr auto kSpinTime = std::chrono::microseconds(200);
// Chunks per thread for dynamic load balancing.
constexpr int64_t kChunksPerThread = 4;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

void futex_wait(std::atomic<uint32_t>* addr, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

}  // namespace

struct ThreadPool::Impl {
  // Job, written by the caller before bumping generation_, read by workers after seeing it.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int64_t chunk = 0;
  alignas(64) std::atomic<int64_t> next{0};
  alignas(64) std::atomic<uint32_t> generation{0};
  alignas(64) std::atomic<int> checked_in{0};
  alignas(64) std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;

  void run_chunks(int thread_index) {
    for (;;) {
      const int64_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      (*fn)(begin, std::min(n, begin + chunk), thread_index);
    }
  }

  void worker_loop(int thread_index) {
    // Generation 0 is the value at construction; a worker that starts after the first call
    // was published must still take part in it.
    uint32_t seen = 0;
    for (;;) {
      // Spin, then sleep, until the generation changes.
      auto spin_start = std::chrono::steady_clock::now();
      for (int i = 0;; ++i) {
        if (generation.load(std::memory_order_acquire) != seen) break;
        if ((i & 63) == 63 && std::chrono::steady_clock::now() - spin_start > kSpinTime) {
          sleepers.fetch_add(1, std::memory_order_seq_cst);
          if (generation.load(std::memory_order_seq_cst) == seen) futex_wait(&generation, seen);
          sleepers.fetch_sub(1, std::memory_order_seq_cst);
          spin_start = std::chrono::steady_clock::now();
          i = 0;
          continue;
        }
        cpu_relax();
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      run_chunks(thread_index);
      checked_in.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void publish() {
    generation.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(&generation);
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl) {
  if (n_threads <= 0)
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  impl_->workers.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) {
    impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
  }
}

ThreadPool::~ThreadPool() {
  impl_->stop.store(true, std::memory_order_release);
  impl_->publish();
  for (auto& t : impl_->workers)
    t.join();
  delete impl_;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  Impl& s = *impl_;
  const int64_t target = (n + n_threads_ * kChunksPerThread - 1) / (n_threads_ * kChunksPerThread);
  s.fn = &fn;
  s.n = n;
  s.chunk = std::max(grain, target);
  s.next.store(0, std::memory_order_relaxed);
  s.checked_in.store(0, std::memory_order_relaxed);
  s.publish();
  s.run_chunks(0);
  const int n_workers = n_threads_ - 1;
  for (int i = 0; s.checked_in.load(std::memory_order_acquire) != n_workers; ++i) {
    // A worker may be descheduled (the machine is shared): stop spinning after a while.
    if (i < 4096) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

}  // namespace gemmad::kernels
