// matmul throughput against the machine's memory bandwidth (docs/DESIGN.md: decode is
// memory-bound; docs/GEMMA4.md §4: E2B reads ~1.4 GB of weights per token).
//
// Prints: streaming read bandwidth of a 1 GiB buffer with 1 and 2 threads (the roofline); for
// E2B-like matrices at n_tok = 1 (decode) and 64 (prefill), GB/s of weights read and GOP/s
// per kernel set, runs of the sets alternating (A/B) so background load hits all alike; the
// per-call overhead of ThreadPool::parallel_for; and, when built with OpenBLAS, the prefill
// alternative of dequantising row tiles and calling sgemm.
//
// Matrices smaller than the last-level cache are replicated until the copies exceed 512 MiB
// and each call uses the next copy, so every call reads its weights from DRAM as in decode.
//
// Usage: matmul_bench [--threads N] [--reps N] [--quick] [--tokens 1,4,64,512] [--only SUBSTR]
//                     [--sets avx2,avx512] [--no-probe]
// --tokens: the batch sizes (default 1,64); --only: matrices whose name contains SUBSTR;
// --sets: the kernel sets to alternate (default every usable one); --no-probe: skip the
// bandwidth probe and the thread-pool figures.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/fp16.h"
#include "kernels/bandwidth_probe.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "quant/ggml_type.h"

#if defined(GEMMAD_BENCH_OPENBLAS)
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace gemmad::bench {
namespace {

using kernels::KernelSet;
using kernels::ThreadPool;
using kernels::WeightView;
using quant::GgmlType;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds used by this process so far (all threads).
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// --- Weights ----------------------------------------------------------------------------------

struct Matrix {
  std::string name;
  GgmlType type;
  int64_t n_in;
  int64_t n_out;
  uint64_t row_bytes = 0;
  int copies = 1;
  std::unique_ptr<uint8_t[]> data;  // `copies` consecutive copies of the matrix

  uint64_t bytes() const { return row_bytes * static_cast<uint64_t>(n_out); }
  WeightView view(int copy) const {
    return WeightView{type, n_in, n_out, data.get() + bytes() * static_cast<uint64_t>(copy),
                      row_bytes};
  }
};

// Random code bytes with fp16 scales in a sane range at each layout's scale offset.
void fill(Matrix& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const uint64_t total = m.bytes() * static_cast<uint64_t>(m.copies);
  for (uint64_t i = 0; i + 8 <= total; i += 8) {
    const uint64_t v = rng();
    std::memcpy(m.data.get() + i, &v, 8);
  }
  const auto& tr = quant::traits(m.type);
  auto put = [&](uint8_t* p) {
    const uint16_t h = fp32_to_fp16(0.01f + 0.01f * static_cast<float>(rng() % 100) / 100.0f);
    std::memcpy(p, &h, 2);
  };
  const uint64_t blocks = total / tr.block_bytes;
  for (uint64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = m.data.get() + b * tr.block_bytes;
    switch (m.type) {
      case GgmlType::kQ4_0:
      case GgmlType::kQ8_0:
        put(blk);
        break;
      case GgmlType::kQ6_K:
        put(blk + 208);
        break;
      case GgmlType::kF16:
        put(blk);
        break;
      default:
        break;
    }
  }
}

Matrix make_matrix(std::string name, GgmlType type, int64_t n_in, int64_t n_out, uint64_t seed) {
  Matrix m;
  m.name = std::move(name);
  m.type = type;
  m.n_in = n_in;
  m.n_out = n_out;
  m.row_bytes = quant::row_bytes(type, static_cast<uint64_t>(n_in)).value();
  const uint64_t kStream = uint64_t{512} << 20;  // beyond any last-level cache here
  m.copies = static_cast<int>(std::max<uint64_t>(1, (kStream + m.bytes() - 1) / m.bytes()));
  m.data.reset(new uint8_t[m.bytes() * static_cast<uint64_t>(m.copies)]);
  fill(m, seed);
  return m;
}

// --- Runs -------------------------------------------------------------------------------------

struct Stats {
  std::vector<double> times;
  double cpu = 0;   // process CPU seconds over all samples
  double wall = 0;  // wall seconds over all samples
  double median() const {
    std::vector<double> t = times;
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

void run_matrix(const Matrix& m, int64_t n_tok, const std::vector<KernelSet>& sets, int reps,
                ThreadPool& pool) {
  std::vector<float> x(static_cast<size_t>(m.n_in * n_tok));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (auto& v : x)
    v = nd(rng);
  std::vector<float> y(static_cast<size_t>(m.n_out * n_tok));
  std::vector<Stats> stats(sets.size());
  // Calls per timing sample: enough work for ~20 ms per sample on a fast set.
  const double flop = 2.0 * static_cast<double>(m.n_in) * m.n_out * n_tok;
  const int calls = static_cast<int>(std::max(1.0, std::min(64.0, 2e9 / flop)));
  int copy = 0;
  for (int rep = 0; rep < reps + 1; ++rep) {  // rep 0 warms up
    for (size_t s = 0; s < sets.size(); ++s) {
      const double c0 = process_cpu_seconds();
      const auto t0 = Clock::now();
      for (int c = 0; c < calls; ++c) {
        kernels::matmul_with(sets[s], m.view(copy), x.data(), n_tok, y.data(), pool);
        copy = (copy + 1) % m.copies;
      }
      const double wall = seconds_since(t0);
      if (rep > 0) {
        stats[s].times.push_back(wall / calls);
        stats[s].wall += wall;
        stats[s].cpu += process_cpu_seconds() - c0;
      }
    }
  }
  for (size_t s = 0; s < sets.size(); ++s) {
    const double t = stats[s].median();
    // cpu: share of the pool's threads this process actually got (< 100%: the machine was
    // busy). The rates after it are per CPU-second received, i.e. per core while running (idle
    // workers spin, so this undercounts a little rather than flatters); on a busy machine the
    // threads seldom run at once, so for memory-bound cases 2 threads reach at most the
    // lower of twice this and the 2-thread read bandwidth.
    const double share = stats[s].cpu / (stats[s].wall * pool.size());
    const double cpu_per_call = t * share * pool.size();
    std::printf(
        "  %-28s n_tok=%-3lld %-7s %8.3f ms %6.2f GB/s %6.1f GOP/s | cpu %3.0f%%, per core: "
        "%6.2f GB/s %6.1f GOP/s\n",
        m.name.c_str(), static_cast<long long>(n_tok), kernels::kernel_set_name(sets[s]), t * 1e3,
        static_cast<double>(m.bytes()) / t / 1e9, flop / t / 1e9, 100.0 * share,
        static_cast<double>(m.bytes()) / cpu_per_call / 1e9, flop / cpu_per_call / 1e9);
  }
}

void spin_for(std::chrono::nanoseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

// Cost of one parallel_for: with no work (the caller usually claims every chunk before a worker
// wakes), and with one chunk of `work` per thread (the ideal time is `work`; the excess is the
// dispatch and wake-up cost), each with `gap` of single-threaded work before each call as
// between the ops of a decode step.
void pool_overhead(ThreadPool& pool) {
  const int n = pool.size();
  for (auto work : {std::chrono::microseconds(0), std::chrono::microseconds(10)}) {
    for (auto gap : {std::chrono::microseconds(0), std::chrono::microseconds(20)}) {
      constexpr int kCalls = 5000;
      const std::function<void(int64_t, int64_t, int)> fn = [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i)
          spin_for(work);
      };
      std::vector<double> t(kCalls);
      for (int c = 0; c < kCalls; ++c) {
        spin_for(gap);
        const auto t0 = Clock::now();
        pool.parallel_for(n, 1, fn);
        t[c] = seconds_since(t0);
      }
      std::sort(t.begin(), t.end());
      std::printf(
          "  %d chunks of %2lld us work, %2lld us between calls: median %.2f us/call, "
          "overhead %.2f us (p90 %.2f us)\n",
          n, static_cast<long long>(work.count()), static_cast<long long>(gap.count()),
          t[kCalls / 2] * 1e6, t[kCalls / 2] * 1e6 - static_cast<double>(work.count()),
          t[kCalls * 9 / 10] * 1e6 - static_cast<double>(work.count()));
    }
  }
}

#if defined(GEMMAD_BENCH_OPENBLAS)
// Prefill alternative: dequantise tiles of rows to f32 and call sgemm (OpenBLAS on 1 thread,
// tiles spread over our pool).
void blas_prefill(const Matrix& m, int64_t n_tok, int reps, ThreadPool& pool) {
  openblas_set_num_threads(1);
  constexpr int64_t kTile = 64;
  std::vector<float> x(static_cast<size_t>(m.n_in * n_tok), 0.5f);
  std::vector<float> y(static_cast<size_t>(m.n_out * n_tok));
  std::vector<std::vector<float>> tiles(static_cast<size_t>(pool.size()),
                                        std::vector<float>(static_cast<size_t>(kTile * m.n_in)));
  double best = 1e30;
  int copy = 0;
  for (int rep = 0; rep < reps + 1; ++rep) {
    const WeightView w = m.view(copy);
    copy = (copy + 1) % m.copies;
    const auto t0 = Clock::now();
    pool.parallel_for((m.n_out + kTile - 1) / kTile, 1, [&](int64_t b, int64_t e, int thread) {
      float* tile = tiles[static_cast<size_t>(thread)].data();
      for (int64_t tb = b; tb < e; ++tb) {
        const int64_t r0 = tb * kTile;
        const int64_t rows = std::min(kTile, m.n_out - r0);
        for (int64_t r = 0; r < rows; ++r) {
          quant::dequantize_row_ref(m.type, w.data + (r0 + r) * w.row_bytes, tile + r * m.n_in,
                                    m.n_in);
        }
        // Y[t][r0 + r] = sum_i X[t][i] * tile[r][i]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_tok),
                    static_cast<int>(rows), static_cast<int>(m.n_in), 1.0f, x.data(),
                    static_cast<int>(m.n_in), tile, static_cast<int>(m.n_in), 0.0f, y.data() + r0,
                    static_cast<int>(m.n_out));
      }
    });
    if (rep > 0) best = std::min(best, seconds_since(t0));
  }
  const double flop = 2.0 * static_cast<double>(m.n_in) * m.n_out * n_tok;
  std::printf("  %-28s n_tok=%-3lld %-7s %9.3f ms  %6.2f GB/s  %7.1f GOP/s  (best)\n",
              m.name.c_str(), static_cast<long long>(n_tok), "blas", best * 1e3,
              static_cast<double>(m.bytes()) / best / 1e9, flop / best / 1e9);
}
#endif

int run(int argc, char** argv) {
  int threads = 2;
  int reps = 7;
  bool quick = false;
  bool probe = true;
  std::vector<int64_t> tokens = {1, 64};
  std::string only;
  std::string set_names;
  auto parse_list = [](const char* p, std::vector<int64_t>* out) {
    out->clear();
    while (*p != '\0') {
      char* end = nullptr;
      const long long v = std::strtoll(p, &end, 10);
      if (end == p || v < 1) return false;
      out->push_back(v);
      p = *end == ',' ? end + 1 : end;
    }
    return !out->empty();
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tokens" && i + 1 < argc) {
      if (!parse_list(argv[++i], &tokens)) {
        std::fprintf(stderr, "matmul_bench: --tokens wants a list of counts >= 1\n");
        return 2;
      }
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--sets" && i + 1 < argc) {
      set_names = argv[++i];
    } else if (a == "--no-probe") {
      probe = false;
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (a == "--quick") {
      quick = true;
      reps = 3;
    } else {
      std::fprintf(stderr,
                   "usage: matmul_bench [--threads N] [--reps N] [--quick] [--tokens LIST] "
                   "[--only SUBSTR] [--sets LIST] [--no-probe]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1) {
    std::fprintf(stderr, "matmul_bench: --threads and --reps must be >= 1\n");
    return 2;
  }
  const Result<KernelSet> active = kernels::init_kernels();
  if (!active.ok()) {
    std::fprintf(stderr, "matmul_bench: %s\n", active.error().message.c_str());
    return 2;
  }
  std::vector<KernelSet> sets = kernels::usable_kernel_sets();
  if (!set_names.empty()) {
    std::vector<KernelSet> chosen;
    for (KernelSet s : sets) {
      if (("," + set_names + ",").find(std::string(",") + kernels::kernel_set_name(s) + ",") !=
          std::string::npos)
        chosen.push_back(s);
    }
    if (chosen.empty()) {
      std::fprintf(stderr, "matmul_bench: --sets %s names no usable kernel set\n",
                   set_names.c_str());
      return 2;
    }
    sets = chosen;
  }

  ThreadPool pool(threads);
  if (probe) {
    std::printf("memory read bandwidth (1 GiB buffer, best of 3):\n");
    for (const kernels::ReadBandwidth& b :
         kernels::probe_read_bandwidth(kernels::kProbeBytes, {1, 2}, 3)) {
      std::printf("  %d thread%s: %.2f GB/s (per core while running: %.2f GB/s)\n", b.threads,
                  b.threads > 1 ? "s" : "", b.gb_s, b.per_core_gb_s);
    }

    std::printf("\nthread pool (%d threads):\n", pool.size());
    pool_overhead(pool);
  }

  std::printf("\nmatmul, %d threads, median of %d alternating runs per set:\n", pool.size(), reps);
  std::vector<Matrix> mats;
  mats.push_back(make_matrix("ffn_gate 1536x6144 q4_0", GgmlType::kQ4_0, 1536, 6144, 1));
  mats.push_back(make_matrix("ffn_down 6144x1536 q4_0", GgmlType::kQ4_0, 6144, 1536, 2));
  mats.push_back(make_matrix("per_layer_proj 1536x8960 f16", GgmlType::kF16, 1536, 8960, 3));
  if (!quick) {
    mats.push_back(make_matrix("attn_q 1536x2048 q4_0", GgmlType::kQ4_0, 1536, 2048, 5));
    mats.push_back(make_matrix("lm_head 1536x262144 q6_K", GgmlType::kQ6_K, 1536, 262144, 4));
  }
  for (const Matrix& m : mats) {
    if (!only.empty() && m.name.find(only) == std::string::npos) continue;
    for (int64_t n_tok : tokens) {
      std::vector<KernelSet> s = sets;
      // The scalar reference is only a correctness baseline; time it on the small cases.
      if ((n_tok > 1 || m.bytes() > (uint64_t{64} << 20)) && s.size() > 1 &&
          s.front() == KernelSet::kScalar)
        s.erase(s.begin());
      run_matrix(m, n_tok, s, reps, pool);
    }
  }
#if defined(GEMMAD_BENCH_OPENBLAS)
  std::printf(
      "\nprefill via dequantised tiles + OpenBLAS sgemm (1 BLAS thread per pool thread):\n");
  blas_prefill(mats[0], 64, reps, pool);
  blas_prefill(mats[1], 64, reps, pool);
  blas_prefill(mats[2], 64, reps, pool);
#endif
  return 0;
}

}  // namespace
}  // namespace gemmad::bench

int main(int argc, char** argv) {
  return gemmad::bench::run(argc, argv);
}
