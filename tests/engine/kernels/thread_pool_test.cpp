// ThreadPool: every index is covered exactly once, chunks respect the grain, thread indices are
// in range, a 1-thread pool runs inline, and many rapid calls neither lose work nor hang.
#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace gemmad::kernels {
namespace {

void expect_exact_cover(ThreadPool& pool, int64_t n, int64_t grain) {
  SCOPED_TRACE("n=" + std::to_string(n) + " grain=" + std::to_string(grain));
  std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[static_cast<size_t>(n + 1)]);
  for (int64_t i = 0; i <= n; ++i)
    hits[i] = 0;
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  std::atomic<bool> bad_index{false};
  pool.parallel_for(n, grain, [&](int64_t begin, int64_t end, int thread) {
    if (thread < 0 || thread >= pool.size()) bad_index = true;
    for (int64_t i = begin; i < end; ++i)
      hits[i].fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(begin, end);
  });
  EXPECT_FALSE(bad_index.load());
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(hits[i].load(), 1) << "index " << i;
  std::sort(chunks.begin(), chunks.end());
  for (size_t c = 0; c + 1 < chunks.size(); ++c) {
    EXPECT_GE(chunks[c].second - chunks[c].first, std::max<int64_t>(grain, 1));
  }
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000, 100003}) {
      for (int64_t grain : {0, 1, 5, 64, 200000})
        expect_exact_cover(pool, n, grain);
    }
  }
}

TEST(ThreadPool, ZeroItemsCallsNothing) {
  ThreadPool pool(2);
  bool called = false;
  pool.parallel_for(0, 1, [&](int64_t, int64_t, int) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, OneThreadRunsOnTheCaller) {
  ThreadPool pool(1);
  const std::thread::id me = std::this_thread::get_id();
  int calls = 0;
  pool.parallel_for(1000, 1, [&](int64_t begin, int64_t end, int thread) {
    EXPECT_EQ(std::this_thread::get_id(), me);
    EXPECT_EQ(thread, 0);
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 1000);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, SmallerThanTheGrainRunsAsOneChunkOnTheCaller) {
  ThreadPool pool(4);
  const std::thread::id me = std::this_thread::get_id();
  int calls = 0;
  pool.parallel_for(10, 16, [&](int64_t begin, int64_t end, int) {
    EXPECT_EQ(std::this_thread::get_id(), me);
    EXPECT_EQ(end - begin, 10);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, ManyRapidCallsLoseNoWork) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  constexpr int kCalls = 20000;
  for (int c = 0; c < kCalls; ++c) {
    pool.parallel_for(8, 1, [&](int64_t begin, int64_t end, int) {
      total.fetch_add(end - begin, std::memory_order_relaxed);
    });
  }
  EXPECT_EQ(total.load(), int64_t{8} * kCalls);
}

TEST(ThreadPool, WorkersThatSleptWakeForTheNextCall) {
  ThreadPool pool(2);
  for (int c = 0; c < 3; ++c) {
    // Longer than the workers' spin time, so they are asleep in the futex when called.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // Two chunks: whoever runs the first waits until the second has started. The caller only
    // takes the second after finishing the first, so only a woken worker can release it.
    std::atomic<int> started{0};
    std::atomic<bool> released{false};
    pool.parallel_for(2, 1, [&](int64_t, int64_t, int) {
      if (started.fetch_add(1) == 0) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (started.load() < 2 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::yield();
        }
        released = started.load() == 2;
      }
    });
    EXPECT_TRUE(released.load()) << "call " << c << ": no worker woke up";
  }
}

}  // namespace
}  // namespace gemmad::kernels
