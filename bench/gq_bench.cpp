// The scaled-code kernels (gq2/gq4/gq8, docs/FORMATS.md) against Q4_0 on E2B's matrix shapes,
// per kernel set, at decode (1 token) and prefill (64 tokens) batches: GB/s of weights read.
// The mobile E2B reads 0.59x Q4_0's bytes per token (docs/PERFORMANCE.md "Google's mobile
// schema"), so its decode gains that much only if these kernels read as fast per byte.
//
// Each matrix is replicated past 512 MiB and each call takes the next copy, so weights come
// from DRAM as in decode; the sets and types run alternately, so background load hits all.
//
// Usage: gq_bench [THREADS [REPS]]   (defaults 2 and 7)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/fp16.h"
#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "quant/ggml_type.h"

namespace gemmad::bench {
namespace {

using kernels::KernelSet;
using quant::GgmlType;
using Clock = std::chrono::steady_clock;

struct Matrix {
  std::string name;
  GgmlType type;
  int64_t n_in, n_out;
  uint64_t row_bytes = 0;
  int copies = 1;
  std::unique_ptr<uint8_t[]> data;
  std::vector<float> scales;  // per row (channel scales), scaled-code types only

  uint64_t bytes() const { return row_bytes * static_cast<uint64_t>(n_out); }
  kernels::WeightView view(int copy) const {
    kernels::WeightView v{type, n_in, n_out, data.get() + bytes() * static_cast<uint64_t>(copy),
                          row_bytes};
    if (!scales.empty()) {
      v.scales = scales.data();
      v.group = n_in;
      v.in_scale = 8.0f / 127.0f;  // a static input scale, as the mobile checkpoints have
    }
    return v;
  }
};

Matrix make(GgmlType type, int64_t n_in, int64_t n_out, uint64_t seed) {
  Matrix m{std::string(quant::traits(type).name) + " " + std::to_string(n_in) + "x" +
               std::to_string(n_out),
           type, n_in, n_out};
  m.row_bytes = quant::row_bytes(type, static_cast<uint64_t>(n_in)).value();
  m.copies = static_cast<int>(std::max<uint64_t>(1, ((uint64_t{512} << 20) / m.bytes()) + 1));
  const uint64_t total = m.bytes() * static_cast<uint64_t>(m.copies);
  m.data.reset(new uint8_t[total]);
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i + 8 <= total; i += 8) {
    const uint64_t v = rng();
    std::memcpy(m.data.get() + i, &v, 8);
  }
  if (quant::traits(type).code_bits != 0) {
    m.scales.assign(static_cast<size_t>(n_out), 0.01f);
  } else {  // Q4_0: an fp16 scale leads each 18-byte block
    const uint16_t h = fp32_to_fp16(0.01f);
    for (uint64_t b = 0; b + 18 <= total; b += 18)
      std::memcpy(m.data.get() + b, &h, 2);
  }
  return m;
}

// Median seconds per call of each (matrix, set), runs alternating over all of them.
void run(const std::vector<Matrix>& mats, int64_t n_tok, const std::vector<KernelSet>& sets,
         int reps, kernels::ThreadPool& pool) {
  struct Cell {
    const Matrix* m;
    KernelSet set;
    std::vector<double> t;
    int copy = 0;
  };
  std::vector<Cell> cells;
  for (const Matrix& m : mats)
    for (KernelSet s : sets)
      cells.push_back({&m, s, {}});
  const int64_t max_in = std::max_element(mats.begin(), mats.end(), [](auto& a, auto& b) {
                           return a.n_in < b.n_in;
                         })->n_in;
  std::vector<float> x(static_cast<size_t>(max_in * n_tok));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (auto& v : x)
    v = nd(rng);
  std::vector<float> y(static_cast<size_t>(262144 * n_tok));
  for (int rep = 0; rep <= reps; ++rep) {  // rep 0 warms up
    for (Cell& c : cells) {
      const int calls = n_tok == 1 ? 16 : 2;
      const auto t0 = Clock::now();
      for (int k = 0; k < calls; ++k) {
        kernels::matmul_with(c.set, c.m->view(c.copy), x.data(), n_tok, y.data(), pool);
        c.copy = (c.copy + 1) % c.m->copies;
      }
      if (rep > 0) c.t.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / calls);
    }
  }
  for (Cell& c : cells) {
    std::sort(c.t.begin(), c.t.end());
    const double t = c.t[c.t.size() / 2];
    std::printf("  %-16s n_tok=%-3lld %-7s %8.3f ms %6.2f GB/s %7.1f GOP/s\n", c.m->name.c_str(),
                static_cast<long long>(n_tok), kernels::kernel_set_name(c.set), t * 1e3,
                static_cast<double>(c.m->bytes()) / t / 1e9,
                2.0 * static_cast<double>(c.m->n_in * c.m->n_out * n_tok) / t / 1e9);
  }
}

int main_(int argc, char** argv) {
  // Positional: [threads [reps]].
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
  if (argc > 3 || threads < 1 || reps < 1) {
    std::fprintf(stderr, "usage: gq_bench [THREADS >= 1 [REPS >= 1]]\n");
    return 2;
  }
  if (!kernels::init_kernels().ok()) return 2;
  std::vector<KernelSet> sets = kernels::usable_kernel_sets();
  sets.erase(sets.begin());  // the scalar twin is a correctness baseline, not timed here
  kernels::ThreadPool pool(threads);
  // E2B's MLP shapes: gate/up 1536 -> 6144 and down 6144 -> 1536.
  for (auto [n_in, n_out] : {std::pair<int64_t, int64_t>{1536, 6144}, {6144, 1536}}) {
    std::vector<Matrix> mats;
    for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kGQ2, GgmlType::kGQ4, GgmlType::kGQ8})
      mats.push_back(make(t, n_in, n_out, static_cast<uint64_t>(n_in)));
    std::printf("%lld x %lld, %d threads, median of %d alternating runs:\n",
                static_cast<long long>(n_in), static_cast<long long>(n_out), pool.size(), reps);
    for (int64_t n_tok : {1, 64})
      run(mats, n_tok, sets, reps, pool);
  }
  return 0;
}

}  // namespace
}  // namespace gemmad::bench

int main(int argc, char** argv) {
  return gemmad::bench::main_(argc, argv);
}
