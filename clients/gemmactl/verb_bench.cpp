// `gemmactl bench --model FILE [--prompt-tokens N] [--gen-tokens N] [--threads T]
// [--kv-type PRESET] [--json]`: prefill and decode speed of the offline engine, peak RSS,
// and the weight bandwidth decode achieves (docs/DESIGN.md command-line contract; docs/GEMMA4.md
// §4.1): read_gb_s = weight bytes per decoded token (from the tensor table) x decode tok/s. Prompt
// ids are deterministic and decode is greedy, so runs are comparable.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "cli.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "kv_type_option.h"
#include "models/gemma4.h"
#include "runtime/model.h"

namespace gemmad::ctl {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  int prompt_tokens = 128;
  int gen_tokens = 32;
  int threads = 0;
  std::string kv_type = "f16";
  bool warmup = true;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// VmHWM from /proc/self/status in bytes (0 if unavailable).
uint64_t vm_hwm_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

uint64_t ru_maxrss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

int32_t argmax(const float* z, int64_t n) {
  return static_cast<int32_t>(std::max_element(z, z + n) - z);
}

int run_bench(const BenchArgs& a, const Globals& g) {
  const auto t_load = Clock::now();
  auto model = runtime::Model::load(a.model);
  if (!model.ok()) return report_model_error(g, model.error());
  const double load_ms = ms_since(t_load);
  const runtime::Model& m = **model;
  const engine::Gemma4Config& c = m.config();

  kernels::ThreadPool pool(a.threads);
  engine::Gemma4Forward fwd(c, m.weights(), pool);
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = static_cast<uint32_t>(a.prompt_tokens + a.gen_tokens);
  kv_opts.type = kv_types_of(a.kv_type);
  kv_opts.n_seq = 2;  // slot 1: the warm-up
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  if (kv.options().n_ctx < kv_opts.n_ctx) {
    return report_error(g, "out_of_range", "prompt + generated tokens exceed the model context",
                        kExitUsage);
  }

  // Prefill: <bos> then deterministic ids; logits for the last row only (as a chat would).
  runtime::Batch batch;
  uint32_t x = 2463534242u;
  for (int i = 0; i < a.prompt_tokens; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    const int32_t id =
        i == 0 ? std::min<int32_t>(2, c.n_vocab - 1) : static_cast<int32_t>(x % c.n_vocab);
    batch.add(id, i, 0, i + 1 == a.prompt_tokens);
  }
  engine::ForwardOutput out;
  // Warm-up: one token through every layer and the LM head maps the weight pages into this
  // process (a daemon pays this once at start), so prefill measures compute, not page faults.
  double warmup_ms = 0.0;
  if (a.warmup) {
    runtime::Batch one;
    one.add(batch.rows[0].token, 0, 1, true);
    const auto t_warm = Clock::now();
    if (Status st = fwd.forward(one, kv, out); !st.ok()) return report_error(g, st.error());
    warmup_ms = ms_since(t_warm);
  }
  const auto t_prefill = Clock::now();
  if (Status st = fwd.forward(batch, kv, out); !st.ok()) return report_error(g, st.error());
  const double prefill_ms = ms_since(t_prefill);

  int32_t next = argmax(out.row_logits(0), out.n_vocab);
  const auto t_decode = Clock::now();
  for (int i = 0; i < a.gen_tokens; ++i) {
    batch.clear();
    batch.add(next, a.prompt_tokens + i, 0, true);
    if (Status st = fwd.forward(batch, kv, out); !st.ok()) return report_error(g, st.error());
    next = argmax(out.row_logits(0), out.n_vocab);
  }
  const double decode_ms = ms_since(t_decode);

  const double prefill_tok_s = a.prompt_tokens / (prefill_ms / 1e3);
  const double decode_tok_s = a.gen_tokens / (decode_ms / 1e3);
  const uint64_t bytes_per_token = m.weights().bytes_per_decoded_token();
  const double read_gb_s = bytes_per_token * decode_tok_s / 1e9;
  const uint64_t hwm = vm_hwm_bytes(), maxrss = ru_maxrss_bytes();
  const uint64_t peak = std::max(hwm, maxrss);
  if (g.json) {
    print_json({{"model", a.model},
                {"variant", c.variant},
                {"prompt_tokens", a.prompt_tokens},
                {"gen_tokens", a.gen_tokens},
                {"load_ms", load_ms},
                {"warmup_ms", warmup_ms},
                {"prefill_ms", prefill_ms},
                {"decode_ms", decode_ms},
                {"prefill_tok_s", prefill_tok_s},
                {"decode_tok_s", decode_tok_s},
                {"peak_rss_bytes", peak},
                {"vm_hwm_bytes", hwm},
                {"ru_maxrss_bytes", maxrss},
                {"kv_bytes", kv.bytes_used()},
                {"weight_bytes_per_token", bytes_per_token},
                {"read_gb_s", read_gb_s},
                {"kernels", kernels::kernel_set_name()},
                {"threads", pool.size()}});
  } else {
    std::printf("model      %s (%s)\n", a.model.c_str(),
                c.variant.empty() ? "custom" : c.variant.c_str());
    std::printf("kernels    %s, %d threads\n", kernels::kernel_set_name(), pool.size());
    std::printf("load       %.0f ms (warm-up %.0f ms)\n", load_ms, warmup_ms);
    std::printf("prefill    %d tokens in %.0f ms: %.2f tok/s\n", a.prompt_tokens, prefill_ms,
                prefill_tok_s);
    std::printf("decode     %d tokens in %.0f ms: %.2f tok/s\n", a.gen_tokens, decode_ms,
                decode_tok_s);
    std::printf("weights    %.3f GB per decoded token: %.2f GB/s\n", bytes_per_token / 1e9,
                read_gb_s);
    std::printf("peak RSS   %.3f GiB (VmHWM %.3f GiB, ru_maxrss %.3f GiB); KV %.1f MiB\n",
                peak / 1073741824.0, hwm / 1073741824.0, maxrss / 1073741824.0,
                kv.bytes_used() / 1048576.0);
  }
  return kExitOk;
}

void add_bench_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand(
      "bench", "measure prefill and decode speed, weight bandwidth and peak RSS (offline)");
  auto args = std::make_shared<BenchArgs>();
  sub->add_option("--model", args->model, "GGUF model file")->required();
  sub->add_option("--prompt-tokens", args->prompt_tokens, "prompt length")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--gen-tokens", args->gen_tokens, "decoded tokens")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_kv_type_option(sub, args->kv_type);
  sub->add_flag("!--no-warmup", args->warmup,
                "measure prefill cold (including the first touch of the weight pages)");
  sub->add_flag("--json", ctx.globals.json, "one JSON document on stdout");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_bench(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(80, add_bench_verb);

}  // namespace gemmad::ctl
