// `gemmactl bench --model FILE [--prefill 128,512] [--contexts 0,4096] [--gen-tokens N]
// [--prompt-tokens N] [--threads T] [--kv-type PRESET] [--no-probe] [--probe-mib N] [--json]`:
// the offline engine's speed as a user feels it (docs/PERFORMANCE.md, docs/DESIGN.md contract):
// prefill at each length with its time to first token; decode of N tokens starting at each
// context; weight bytes read per decoded token and the GB/s that makes, against the
// read-bandwidth roofline measured by a probe in this same process (kernels/bandwidth_probe.h);
// CPU-seconds per token (getrusage: what the battery pays); peak RSS (measured before the probe
// allocates its buffer). Prompt ids are deterministic and decode is greedy, so runs compare.
// --prompt-tokens N is the short form of --prefill N --contexts N (decode right after that
// prefill), the form older scripts use.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "kernels/bandwidth_probe.h"
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
  std::vector<int> prefill = {128, 512};
  std::vector<int> contexts = {0, 4096};
  int prompt_tokens = 0;  // 0 = not given
  int gen_tokens = 128;
  int threads = 0;
  std::string kv_type = "f16";
  bool warmup = true;
  bool probe = true;
  int probe_mib = 1024;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
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

struct PrefillRun {
  int tokens = 0;
  double ms = 0;
  double ttft_ms = 0;  // prefill + choosing the first token
  double cpu_s = 0;
  int32_t first = 0;
};

struct DecodeRun {
  int context = 0;
  int tokens = 0;
  double ms = 0;
  double cpu_s = 0;
  uint64_t kv_bytes = 0;
};

class Bench {
 public:
  Bench(const runtime::Model& m, kernels::ThreadPool& pool, runtime::KvCachePool& kv)
      : c_(m.config()), fwd_(c_, m.weights(), pool), kv_(kv) {}

  // <bos> then deterministic ids (the same prompt for every length: a prefix of the longest).
  void prompt(int n) {
    batch_.clear();
    uint32_t x = 2463534242u;
    for (int i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      const int32_t id =
          i == 0 ? std::min<int32_t>(2, c_.n_vocab - 1) : static_cast<int32_t>(x % c_.n_vocab);
      batch_.add(id, i, 0, i + 1 == n);  // logits for the last row only, as a chat would
    }
  }

  // One token through every layer and the LM head in slot 1: maps the weight pages into this
  // process (a daemon pays this once at start), so prefill measures compute, not page faults.
  Result<double> warm_up() {
    runtime::Batch one;
    one.add(std::min<int32_t>(2, c_.n_vocab - 1), 0, 1, true);
    const auto t0 = Clock::now();
    GEMMAD_TRY(fwd_.forward(one, kv_, out_));
    return ms_since(t0);
  }

  Result<PrefillRun> prefill(int n) {
    kv_.seq(0).clear();
    prompt(n);
    PrefillRun r;
    r.tokens = n;
    const double c0 = cpu_seconds();
    const auto t0 = Clock::now();
    GEMMAD_TRY(fwd_.forward(batch_, kv_, out_));
    r.ms = ms_since(t0);
    r.first = argmax(out_.row_logits(0), out_.n_vocab);
    r.ttft_ms = ms_since(t0);
    r.cpu_s = cpu_seconds() - c0;
    return r;
  }

  // Greedy decode of n tokens from position `context` (after a prefill of `context` tokens,
  // whose first token is `next`; from an empty cache, starting at <bos>, when context is 0).
  Result<DecodeRun> decode(int context, int n) {
    int32_t next = std::min<int32_t>(2, c_.n_vocab - 1);
    if (context > 0) {
      GEMMAD_ASSIGN_OR_RETURN(const PrefillRun p, prefill(context));
      next = p.first;
    } else {
      kv_.seq(0).clear();
    }
    DecodeRun r;
    r.context = context;
    r.tokens = n;
    const double c0 = cpu_seconds();
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      batch_.clear();
      batch_.add(next, context + i, 0, true);
      GEMMAD_TRY(fwd_.forward(batch_, kv_, out_));
      next = argmax(out_.row_logits(0), out_.n_vocab);
    }
    r.ms = ms_since(t0);
    r.cpu_s = cpu_seconds() - c0;
    r.kv_bytes = kv_.bytes_used();
    return r;
  }

 private:
  const engine::Gemma4Config& c_;
  engine::Gemma4Forward fwd_;
  runtime::KvCachePool& kv_;
  runtime::Batch batch_;
  engine::ForwardOutput out_;
};

int run_bench(BenchArgs a, const Globals& g) {
  if (a.prompt_tokens > 0) {
    a.prefill = {a.prompt_tokens};
    a.contexts = {a.prompt_tokens};
  }
  const auto t_load = Clock::now();
  auto model = runtime::Model::load(a.model);
  if (!model.ok()) return report_model_error(g, model.error());
  const double load_ms = ms_since(t_load);
  const runtime::Model& m = **model;
  const engine::Gemma4Config& c = m.config();

  kernels::ThreadPool pool(a.threads);
  const int max_prefill = *std::max_element(a.prefill.begin(), a.prefill.end());
  const int max_context = *std::max_element(a.contexts.begin(), a.contexts.end());
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = static_cast<uint32_t>(std::max(max_prefill, max_context + a.gen_tokens));
  kv_opts.type = kv_types_of(a.kv_type);
  kv_opts.n_seq = 2;  // slot 1: the warm-up
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  if (kv.options().n_ctx < kv_opts.n_ctx) {
    return report_error(g, "out_of_range",
                        "--prefill / --contexts + --gen-tokens need " +
                            std::to_string(kv_opts.n_ctx) + " positions; the model holds " +
                            std::to_string(kv.options().n_ctx),
                        kExitUsage);
  }

  Bench bench(m, pool, kv);
  double warmup_ms = 0.0;
  if (a.warmup) {
    auto w = bench.warm_up();
    if (!w.ok()) return report_error(g, w.error());
    warmup_ms = *w;
  }
  std::vector<PrefillRun> prefills;
  for (int n : a.prefill) {
    auto r = bench.prefill(n);
    if (!r.ok()) return report_error(g, r.error());
    prefills.push_back(*r);
  }
  std::vector<DecodeRun> decodes;
  for (int ctx : a.contexts) {
    auto r = bench.decode(ctx, a.gen_tokens);
    if (!r.ok()) return report_error(g, r.error());
    decodes.push_back(*r);
  }
  // Peak RSS before the probe's buffer exists.
  const uint64_t hwm = vm_hwm_bytes(), maxrss = ru_maxrss_bytes();
  const uint64_t peak = std::max(hwm, maxrss);
  std::vector<kernels::ReadBandwidth> probe;
  if (a.probe) {
    std::vector<int> counts = {1};
    if (pool.size() > 1) counts.push_back(pool.size());
    probe = kernels::probe_read_bandwidth(static_cast<size_t>(a.probe_mib) << 20, counts, 3);
  }
  const double roof_gb_s = probe.empty() ? 0.0 : probe.back().gb_s;  // at the pool's threads

  const uint64_t bytes_per_token = m.weights().bytes_per_decoded_token();
  auto tok_s = [](int n, double ms) { return n / (ms / 1e3); };
  auto read_gb_s = [&](const DecodeRun& d) {
    return bytes_per_token * tok_s(d.tokens, d.ms) / 1e9;
  };
  auto fraction = [&](const DecodeRun& d) {
    return roof_gb_s > 0 ? read_gb_s(d) / roof_gb_s : 0.0;
  };
  const PrefillRun& p0 = prefills.front();
  const DecodeRun& d0 = decodes.front();
  if (g.json) {
    nlohmann::json pj = nlohmann::json::array();
    for (const PrefillRun& p : prefills) {
      pj.push_back({{"tokens", p.tokens},
                    {"ms", p.ms},
                    {"tok_s", tok_s(p.tokens, p.ms)},
                    {"ttft_ms", p.ttft_ms},
                    {"cpu_s", p.cpu_s}});
    }
    nlohmann::json dj = nlohmann::json::array();
    for (const DecodeRun& d : decodes) {
      dj.push_back({{"context", d.context},
                    {"tokens", d.tokens},
                    {"ms", d.ms},
                    {"tok_s", tok_s(d.tokens, d.ms)},
                    {"cpu_s_per_token", d.cpu_s / d.tokens},
                    {"read_gb_s", read_gb_s(d)},
                    {"roofline_fraction", fraction(d)},
                    {"kv_bytes", d.kv_bytes}});
    }
    nlohmann::json probe_j = nlohmann::json::array();
    for (const kernels::ReadBandwidth& b : probe)
      probe_j.push_back({{"threads", b.threads}, {"gb_s", b.gb_s}});
    print_json({{"model", a.model},
                {"variant", c.variant},
                {"kernels", kernels::kernel_set_name()},
                {"threads", pool.size()},
                {"load_ms", load_ms},
                {"warmup_ms", warmup_ms},
                {"prefill", pj},
                {"decode", dj},
                {"probe", probe_j},
                {"probe_gb_s", roof_gb_s},
                {"weight_bytes_per_token", bytes_per_token},
                {"peak_rss_bytes", peak},
                {"vm_hwm_bytes", hwm},
                {"ru_maxrss_bytes", maxrss},
                // The first prefill and the first decode, under the names of the older format.
                {"prompt_tokens", p0.tokens},
                {"gen_tokens", d0.tokens},
                {"prefill_ms", p0.ms},
                {"prefill_tok_s", tok_s(p0.tokens, p0.ms)},
                {"ttft_ms", p0.ttft_ms},
                {"decode_ms", d0.ms},
                {"decode_tok_s", tok_s(d0.tokens, d0.ms)},
                {"cpu_s_per_token", d0.cpu_s / d0.tokens},
                {"read_gb_s", read_gb_s(d0)},
                {"roofline_fraction", fraction(d0)},
                {"kv_bytes", d0.kv_bytes}});
    return kExitOk;
  }
  std::printf("model      %s (%s)\n", a.model.c_str(),
              c.variant.empty() ? "custom" : c.variant.c_str());
  std::printf("kernels    %s, %d threads\n", kernels::kernel_set_name(), pool.size());
  std::printf("load       %.0f ms (warm-up %.0f ms)\n", load_ms, warmup_ms);
  for (const PrefillRun& p : prefills) {
    std::printf("prefill    %5d tokens in %8.0f ms: %8.2f tok/s, first token after %.0f ms\n",
                p.tokens, p.ms, tok_s(p.tokens, p.ms), p.ttft_ms);
  }
  for (const DecodeRun& d : decodes) {
    std::printf("decode     %5d tokens at context %d: %.2f tok/s, %.3f CPU-s/token, %.2f GB/s",
                d.tokens, d.context, tok_s(d.tokens, d.ms), d.cpu_s / d.tokens, read_gb_s(d));
    if (roof_gb_s > 0) std::printf(" = %.0f %% of the probe", 100.0 * fraction(d));
    std::printf("\n");
  }
  std::printf("weights    %.3f GB per decoded token\n", bytes_per_token / 1e9);
  for (const kernels::ReadBandwidth& b : probe) {
    std::printf("probe      %.2f GB/s read bandwidth on %d thread%s (%d MiB, best of 3)\n", b.gb_s,
                b.threads, b.threads > 1 ? "s" : "", a.probe_mib);
  }
  std::printf("peak RSS   %.3f GiB (VmHWM %.3f GiB, ru_maxrss %.3f GiB); KV %.1f MiB\n",
              peak / 1073741824.0, hwm / 1073741824.0, maxrss / 1073741824.0,
              d0.kv_bytes / 1048576.0);
  return kExitOk;
}

void add_bench_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand(
      "bench",
      "measure prefill, decode, time to first token, CPU per token, bandwidth and peak RSS "
      "(offline)");
  auto args = std::make_shared<BenchArgs>();
  sub->add_option("--model", args->model, "GGUF model file")->required();
  sub->add_option("--prefill", args->prefill, "prefill lengths to time, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--contexts", args->contexts,
                  "contexts to decode at, comma-separated (each filled by a prefill first)")
      ->delimiter(',')
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  sub->add_option("--prompt-tokens", args->prompt_tokens,
                  "one prefill of N tokens, then decode after it (= --prefill N --contexts N)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--gen-tokens", args->gen_tokens, "decoded tokens per context")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  add_kv_type_option(sub, args->kv_type);
  sub->add_flag("!--no-warmup", args->warmup,
                "measure prefill cold (including the first touch of the weight pages)");
  sub->add_flag("!--no-probe", args->probe, "skip the read-bandwidth probe");
  sub->add_option("--probe-mib", args->probe_mib,
                  "probe buffer in MiB (far beyond the last-level cache for a true figure)")
      ->check(CLI::Range(16, 1 << 16))
      ->capture_default_str();
  sub->add_flag("--json", ctx.globals.json, "one JSON document on stdout");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_bench(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(80, add_bench_verb);

}  // namespace gemmad::ctl
