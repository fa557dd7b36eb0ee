// ThreadPool: fixed workers that spin briefly, then sleep on a futex, for low-latency dispatch.
//
// Decode issues hundreds of parallel_for calls per token, so the cost of one call matters
// (bench/matmul_bench.cpp measures it), and on a shared machine a worker may be descheduled at
// any time, so a call must not wait for workers that are not working on it.
//
// Protocol. One 64-bit atomic `ticket_` = job id (16 bits) | chunk count (24) | next chunk
// (24). The caller writes the job (fn, n, chunk size), resets `done_`, then stores a new ticket
// (release). Anyone claims a chunk with ticket_.fetch_add(1): the returned value names the job
// and, with `next < count`, a valid claim; the job's fields are then stable, because the caller
// rewrites them only after `done_` (chunks finished) reaches the count, which needs this claim
// to finish. An invalid claim (next >= count) reads nothing but the ticket itself. So the
// caller waits only for claimed chunks, never for idle or sleeping workers.
//
// Idle workers spin on the ticket for ~kSpinTime, yielding now and then so an oversubscribed
// machine still runs the threads that have work, then sleep in FUTEX_WAIT on `wake_`. The
// seq_cst pair (caller: bump wake_, load sleepers_; worker: bump sleepers_, load wake_) means a
// worker about to sleep either sees the new job or is woken.
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
// Spin iterations between sched_yield calls (each pause is tens of cycles).
constexpr int kYieldEvery = 256;
// Chunks per thread for dynamic load balancing.
constexpr int64_t kChunksPerThread = 4;

constexpr int kIndexBits = 24;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr int64_t kMaxChunks = static_cast<int64_t>(kIndexMask) - 1024;

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

inline uint64_t job_of(uint64_t ticket) {
  return ticket >> (2 * kIndexBits);
}
inline int64_t count_of(uint64_t ticket) {
  return static_cast<int64_t>((ticket >> kIndexBits) & kIndexMask);
}
inline int64_t index_of(uint64_t ticket) {
  return static_cast<int64_t>(ticket & kIndexMask);
}

}  // namespace

struct ThreadPool::Impl {
  // The job: written by the caller before the ticket store, read under valid claims.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int64_t chunk = 0;
  uint64_t job = 0;  // caller-side counter (low 16 bits go into the ticket)

  alignas(64) std::atomic<uint64_t> ticket{0};  // job 0, count 0: nothing to claim
  alignas(64) std::atomic<int64_t> done{0};
  alignas(64) std::atomic<uint32_t> wake{0};
  alignas(64) std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;

  // Claims and runs chunks of the current job until a claim fails. Returns the job id seen.
  uint64_t work(int thread_index) {
    for (;;) {
      const uint64_t t = ticket.fetch_add(1, std::memory_order_acq_rel);
      if (index_of(t) >= count_of(t)) return job_of(t);
      const int64_t begin = index_of(t) * chunk;
      (*fn)(begin, std::min(n, begin + chunk), thread_index);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void worker_loop(int thread_index) {
    uint64_t last_job = 0;
    for (;;) {
      // Wait (spin, then sleep) for a ticket of a job this worker has not finished with.
      uint32_t seen_wake = wake.load(std::memory_order_seq_cst);
      auto spin_start = std::chrono::steady_clock::now();
      for (int i = 1;; ++i) {
        if (stop.load(std::memory_order_acquire)) return;
        const uint64_t t = ticket.load(std::memory_order_acquire);
        if (job_of(t) != last_job && index_of(t) < count_of(t)) break;
        if (i % kYieldEvery == 0) {
          if (std::chrono::steady_clock::now() - spin_start > kSpinTime) {
            sleepers.fetch_add(1, std::memory_order_seq_cst);
            if (wake.load(std::memory_order_seq_cst) == seen_wake &&
                !stop.load(std::memory_order_seq_cst)) {
              futex_wait(&wake, seen_wake);
            }
            sleepers.fetch_sub(1, std::memory_order_seq_cst);
            seen_wake = wake.load(std::memory_order_seq_cst);
            spin_start = std::chrono::steady_clock::now();
          } else {
            sched_yield();
          }
        } else {
          cpu_relax();
        }
      }
      last_job = work(thread_index);
    }
  }

  void wake_sleepers() {
    wake.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(&wake);
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl) {
  if (n_threads <= 0) {
    n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  n_threads_ = n_threads;
  impl_->workers.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) {
    impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
  }
}

ThreadPool::~ThreadPool() {
  impl_->stop.store(true, std::memory_order_seq_cst);
  impl_->wake_sleepers();
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
  const int64_t per_thread = n_threads_ * kChunksPerThread;
  int64_t chunk = std::max(grain, (n + per_thread - 1) / per_thread);
  chunk = std::max(chunk, (n + kMaxChunks - 1) / kMaxChunks);  // count fits the ticket
  const int64_t count = (n + chunk - 1) / chunk;
  s.fn = &fn;
  s.n = n;
  s.chunk = chunk;
  s.done.store(0, std::memory_order_relaxed);
  s.job = (s.job + 1) & 0xFFFF;
  if (s.job == 0) s.job = 1;  // 0 is the idle ticket's job
  s.ticket.store((s.job << (2 * kIndexBits)) | (static_cast<uint64_t>(count) << kIndexBits),
                 std::memory_order_release);
  s.wake_sleepers();
  s.work(0);
  // Every chunk is claimed; wait for the claimed ones still running on workers.
  for (int i = 0; s.done.load(std::memory_order_acquire) != count; ++i) {
    if (i < 4096) {
      cpu_relax();
    } else {
      sched_yield();
    }
  }
}

}  // namespace gemmad::kernels
