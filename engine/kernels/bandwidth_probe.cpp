// Read-bandwidth probe (bandwidth_probe.h): plain 64-bit loads in four independent chains, which
// every x86-64 and arm64 core issues faster than DRAM delivers, so no SIMD set is needed.
#include "kernels/bandwidth_probe.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace gemmad::kernels {
namespace {

uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  return a ^ b ^ c ^ d;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The sums must be observable or the compiler may drop the reads.
volatile uint64_t g_sink = 0;

}  // namespace

BandwidthProbe::BandwidthProbe(size_t bytes)
    : words_(std::max<size_t>(bytes / 8, 1024)), buf_(new uint64_t[words_]) {
  for (size_t i = 0; i < words_; ++i)
    buf_[i] = i * 0x9E3779B97F4A7C15ull;
}

ReadBandwidth BandwidthProbe::measure(int threads, int passes) const {
  threads = std::max(threads, 1);
  ReadBandwidth best;
  best.threads = threads;
  const size_t slice = words_ / static_cast<size_t>(threads);
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    std::vector<double> cpu(static_cast<size_t>(threads));
    auto read = [&](int t) {
      const double c0 = thread_cpu_seconds();
      sums[t] = sum_words(buf_.get() + slice * static_cast<size_t>(t), slice);
      cpu[t] = thread_cpu_seconds() - c0;
    };
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
      pool.emplace_back(read, t);
    read(0);
    for (auto& th : pool)
      th.join();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t x = 0;
    double slowest = 0;
    for (int t = 0; t < threads; ++t) {
      x ^= sums[t];
      slowest = std::max(slowest, cpu[t]);
    }
    g_sink = g_sink + x;
    const double bytes = static_cast<double>(slice * static_cast<size_t>(threads) * 8);
    best.gb_s = std::max(best.gb_s, bytes / wall / 1e9);
    if (slowest > 0)
      best.per_core_gb_s = std::max(best.per_core_gb_s, bytes / threads / slowest / 1e9);
  }
  return best;
}

std::vector<ReadBandwidth> probe_read_bandwidth(size_t bytes, const std::vector<int>& threads,
                                                int passes) {
  const BandwidthProbe probe(bytes);
  std::vector<ReadBandwidth> out;
  for (int t : threads)
    out.push_back(ReadBandwidth{t, 0, 0});
  for (int pass = 0; pass < std::max(passes, 1); ++pass) {
    for (ReadBandwidth& r : out) {
      const ReadBandwidth m = probe.measure(r.threads, 1);
      r.gb_s = std::max(r.gb_s, m.gb_s);
      r.per_core_gb_s = std::max(r.per_core_gb_s, m.per_core_gb_s);
    }
  }
  return out;
}

}  // namespace gemmad::kernels
