// forward_profile MODEL [prompt_tokens] [gen_tokens] [threads]: where a forward pass spends
// its time, per named step (the tap points of models/gemma4.cpp), for prefill and for decode.
// The time between two consecutive taps is charged to the later step, summed over layers;
// so "q" is the attn_q matmul, "kqv_out" attention, "ffn_geglu" the GeGLU, and so on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "models/gemma4.h"
#include "runtime/model.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Profile {
  std::map<std::string, double> ms;
  Clock::time_point last;
  void tap(const gemmad::runtime::TapInfo& t) {
    const auto now = Clock::now();
    ms[std::string(t.name)] += std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
  }
  void print(const char* title, double total_ms, int n_tokens) const {
    std::vector<std::pair<double, std::string>> rows;
    double tapped = 0.0;
    for (const auto& [name, v] : ms) {
      rows.emplace_back(v, name);
      tapped += v;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::printf("%s: %.1f ms total, %.2f ms/token, %d tokens\n", title, total_ms,
                total_ms / n_tokens, n_tokens);
    for (const auto& [v, name] : rows) {
      std::printf("  %-16s %9.2f ms  %5.1f %%\n", name.c_str(), v, 100.0 * v / total_ms);
    }
    std::printf("  %-16s %9.2f ms  %5.1f %%\n", "(untapped)", total_ms - tapped,
                100.0 * (total_ms - tapped) / total_ms);
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace gemmad;
  if (argc < 2) {
    std::fprintf(stderr, "usage: forward_profile MODEL [prompt_tokens] [gen_tokens] [threads]\n");
    return 2;
  }
  const int n_prompt = argc > 2 ? std::atoi(argv[2]) : 64;
  const int n_gen = argc > 3 ? std::atoi(argv[3]) : 16;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
  auto model = runtime::Model::load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.error().message.c_str());
    return 4;
  }
  const runtime::Model& m = **model;
  kernels::ThreadPool pool(threads);
  engine::Gemma4Forward fwd(m.config(), m.weights(), pool);
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = static_cast<uint32_t>(n_prompt + n_gen + 1);
  kv_opts.n_seq = 2;  // slot 1: an untimed cold run that faults the weights in
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  Profile prof;
  fwd.set_tap([&](const runtime::TapInfo& t) { prof.tap(t); });
  std::printf("kernels %s, %d threads\n", kernels::kernel_set_name(), pool.size());

  runtime::Batch batch;
  for (int i = 0; i < n_prompt; ++i) {
    batch.add(static_cast<int32_t>((i * 7919 + 2) % m.config().n_vocab), i, 0, i + 1 == n_prompt);
  }
  engine::ForwardOutput out;
  for (auto& row : batch.rows)
    row.seq = 1;
  auto t0 = Clock::now();
  prof.last = t0;
  if (!fwd.forward(batch, kv, out).ok()) return 1;
  std::printf("cold prefill (first touch of the weights): %.1f ms\n",
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  for (auto& row : batch.rows)
    row.seq = 0;
  prof.ms.clear();
  t0 = Clock::now();
  prof.last = t0;
  if (!fwd.forward(batch, kv, out).ok()) return 1;
  prof.print("prefill", std::chrono::duration<double, std::milli>(Clock::now() - t0).count(),
             n_prompt);

  prof.ms.clear();
  t0 = Clock::now();
  for (int i = 0; i < n_gen; ++i) {
    batch.clear();
    batch.add(static_cast<int32_t>((i * 31 + 5) % m.config().n_vocab), n_prompt + i, 0, true);
    prof.last = Clock::now();
    if (!fwd.forward(batch, kv, out).ok()) return 1;
  }
  prof.print("decode", std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), n_gen);
  return 0;
}
