// Time to encode audio with the real E2B audio tower (docs/PERFORMANCE.md "Audio encoder"):
// writes (once) a synthetic audio-only mmproj at the E2B shape, binds it, and times the
// log-mel front end and the whole encode of a chirp, best of --reps runs.
//   audio_bench [--mmproj PATH] [--type f16|bf16|q8_0|f32] [--seconds S] [--threads N]
//               [--reps R] [--text-d D]
// PATH is created if absent (about 0.62 GB at F16), reused otherwise.
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "audio/audio_tower.h"
#include "audio/audio_weights.h"
#include "audio/mel_features.h"
#include "audio/synth_audio.h"
#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"

namespace {

// Process CPU time (all threads): on a shared machine wall time includes others' load.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gemmad;
  std::string path = "/tmp/gemmad-audio-e2b-f16.gguf", type_name = "f16";
  double seconds = 10.0;
  int threads = 0, reps = 3;
  uint32_t text_d = 1536;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--mmproj")
      path = v;
    else if (a == "--type")
      type_name = v;
    else if (a == "--seconds")
      seconds = std::stod(v);
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--reps")
      reps = std::stoi(v);
    else if (a == "--text-d")
      text_d = static_cast<uint32_t>(std::stoul(v));
    else {
      std::fprintf(stderr, "audio_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  quant::GgmlType type = quant::GgmlType::kF16;
  if (type_name == "bf16") type = quant::GgmlType::kBF16;
  if (type_name == "q8_0") type = quant::GgmlType::kQ8_0;
  if (type_name == "f32") type = quant::GgmlType::kF32;
  if (!std::filesystem::exists(path)) {
    const double t0 = now_ms();
    Status s =
        audio::write_synth_audio_mmproj(path, *audio::synth_audio_shape("e2b"), text_d, type, 1);
    if (!s.ok()) {
      std::fprintf(stderr, "audio_bench: %s\n", s.error().message.c_str());
      return 1;
    }
    std::printf("wrote %s (%s) in %.1f s\n", path.c_str(), type_name.c_str(),
                (now_ms() - t0) / 1000.0);
  }
  auto file = gguf::GgufFile::open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "audio_bench: %s\n", file.error().message.c_str());
    return 1;
  }
  double t0 = now_ms();
  auto w = audio::AudioWeights::bind(**file, text_d);
  if (!w.ok()) {
    std::fprintf(stderr, "audio_bench: %s\n", w.error().message.c_str());
    return 1;
  }
  const double bind_ms = now_ms() - t0;

  const size_t n = static_cast<size_t>(seconds * audio::kSampleRate);
  std::vector<float> pcm(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / audio::kSampleRate;
    pcm[i] = static_cast<float>(
        0.8 * std::sin(2.0 * std::numbers::pi * (100.0 * t + 0.5 * (6900.0 / seconds) * t * t)));
  }
  kernels::ThreadPool pool(threads);
  double best_feat = 1e300, best_total = 1e300, first_total = 0.0, best_cpu = 1e300;
  uint32_t tokens = 0;
  for (int r = 0; r < reps; ++r) {
    t0 = now_ms();
    auto f = audio::log_mel_features(pcm);
    best_feat = std::min(best_feat, now_ms() - t0);
    t0 = now_ms();
    const double c0 = cpu_ms();
    auto e = audio::encode_pcm(*w, pcm, pool);
    const double ms = now_ms() - t0;
    best_cpu = std::min(best_cpu, cpu_ms() - c0);
    if (!f.ok() || !e.ok()) {
      std::fprintf(stderr, "audio_bench: encode failed\n");
      return 1;
    }
    if (r == 0) first_total = ms;
    best_total = std::min(best_total, ms);
    tokens = e->n_tokens;
  }
  // Per token: the layers' matmuls (2 FFNs, q/k/v/out, pw1, pw2) + projections (§3.3).
  const audio::AudioHparams& hp = w->hp;
  const double mac_tok = hp.n_layer * (4.0 * hp.hidden * hp.n_ff + 4.0 * hp.hidden * hp.hidden +
                                       3.0 * hp.hidden * hp.hidden) +
                         double(hp.hidden) * hp.hidden + double(hp.hidden) * hp.out_dim +
                         double(hp.out_dim) * hp.text_d;
  std::printf("audio tower E2B shape, %s weights, %.1f MB, kernels %s, %d threads\n",
              type_name.c_str(), w->weight_bytes / 1e6, kernels::kernel_set_name(), pool.size());
  std::printf("bind %.2f ms; %.1f s of audio -> %u tokens\n", bind_ms, seconds, tokens);
  std::printf("log-mel features: %.1f ms (best of %d)\n", best_feat, reps);
  std::printf("encode total: %.1f ms best, %.1f ms first run (pages faulted in)\n", best_total,
              first_total);
  std::printf("encode CPU time (all threads): %.1f ms best\n", best_cpu);
  std::printf("matmul work %.1f GFLOP -> %.1f GFLOP/s\n", 2.0 * mac_tok * tokens / 1e9,
              2.0 * mac_tok * tokens / 1e9 / (best_total / 1000.0));
  return 0;
}
