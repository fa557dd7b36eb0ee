// `gemmactl model synth`: write a deterministic Gemma-4-shaped model with synthetic weights
// (docs/DESIGN.md command-line contract; engine/synth/synth_model.h).
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "cli.h"
#include "synth/synth_mmproj.h"
#include "synth/synth_model.h"

namespace gemmad::ctl {
namespace {

struct SynthArgs {
  std::string preset = "tiny";
  std::string quant = "f32";
  std::string vocab;
  uint64_t seed = 0;
  bool shared_kv = false;
  std::string out;
  std::string mmproj;  // also write a matching encoder file (docs/ENCODERS.md §5)
  std::string mmproj_quant = "f16";
};

// One "\rsynth: 42% (1.4 / 3.3 GB)" line on stderr, updated only when the percentage moves.
class ProgressLine {
 public:
  void update(uint64_t done, uint64_t total) {
    if (total == 0) return;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct == last_) return;
    last_ = pct;
    std::fprintf(stderr, "\rsynth: %3d%% (%.2f / %.2f GB)", pct, done / 1e9, total / 1e9);
    std::fflush(stderr);
  }
  void finish() const {
    if (last_ >= 0) std::fprintf(stderr, "\n");
  }

 private:
  int last_ = -1;
};

int run_synth(const SynthArgs& a, const Globals& g) {
  synth::SynthOptions opts;
  opts.preset = a.preset;
  opts.quant = a.quant == "q4_0" ? synth::SynthQuant::kQ4_0 : synth::SynthQuant::kF32;
  opts.vocab_path = a.vocab;
  opts.seed = a.seed;
  opts.shared_kv = a.shared_kv;
  ProgressLine line;
  const auto t0 = std::chrono::steady_clock::now();
  // Progress only for files large enough to take a while, and never with --json.
  const bool show = !g.json && a.preset != "tiny";
  Result<synth::SynthSummary> r =
      synth::write_synthetic_model(opts, a.out, [&](uint64_t done, uint64_t total) {
        if (show) line.update(done, total);
      });
  line.finish();
  if (!r.ok()) return report_error(g, r.error());
  std::optional<synth::SynthSummary> mm;
  if (!a.mmproj.empty()) {
    synth::MmprojOptions mo;
    mo.preset = a.preset;
    mo.seed = a.seed;
    mo.quant = a.mmproj_quant == "f32"    ? synth::MmprojQuant::kF32
               : a.mmproj_quant == "q8_0" ? synth::MmprojQuant::kQ8_0
                                          : synth::MmprojQuant::kF16;
    Result<synth::SynthSummary> m = synth::write_synthetic_mmproj(mo, a.mmproj);
    if (!m.ok()) return report_error(g, m.error());
    mm = std::move(m).value();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (g.json) {
    print_json({{"path", a.out},
                {"name", r->name},
                {"tensor_count", r->n_tensors},
                {"file_bytes", r->file_bytes},
                {"vocab_size", r->n_vocab},
                {"mmproj_path", mm ? a.mmproj : std::string()},
                {"mmproj_tensor_count", mm ? mm->n_tensors : 0},
                {"mmproj_file_bytes", mm ? mm->file_bytes : 0},
                {"seconds", secs}});
  } else {
    std::printf("%s: %s, %llu tensors, %llu bytes, vocabulary %u, %.1f s\n", a.out.c_str(),
                r->name.c_str(), static_cast<unsigned long long>(r->n_tensors),
                static_cast<unsigned long long>(r->file_bytes), r->n_vocab, secs);
    if (mm) {
      std::printf("%s: %s, %llu tensors, %llu bytes\n", a.mmproj.c_str(), mm->name.c_str(),
                  static_cast<unsigned long long>(mm->n_tensors),
                  static_cast<unsigned long long>(mm->file_bytes));
    }
  }
  return kExitOk;
}

void add_model_synth_verb(VerbContext& ctx) {
  CLI::App* model = group(ctx.root, "model", "inspect, synthesise and import model files");
  CLI::App* sub = model->add_subcommand(
      "synth", "write a deterministic Gemma-4-shaped model with synthetic weights");
  auto args = std::make_shared<SynthArgs>();
  sub->add_option("--preset", args->preset, "model shape")
      ->check(CLI::IsMember({"tiny", "e2b", "e4b"}))
      ->capture_default_str();
  sub->add_option("--quant", args->quant,
                  "f32: every tensor F32; q4_0: the tensor types of the official Q4_0 GGUF")
      ->check(CLI::IsMember({"f32", "q4_0"}))
      ->capture_default_str();
  sub->add_option("--vocab", args->vocab,
                  "vocabulary-only GGUF whose tokenizer.* keys (and size) to use; default: a "
                  "small built-in vocabulary")
      ->check(CLI::ExistingFile);
  sub->add_option("--seed", args->seed, "weight seed")->capture_default_str();
  sub->add_flag("--shared-kv", args->shared_kv,
                "also write attn_k/attn_v/attn_k_norm on KV-shared layers (ignored by engines)");
  sub->add_flag("--json", ctx.globals.json, "print a JSON summary");
  add_output_option(sub, args->out, "output GGUF file", true);
  sub->add_option("--mmproj", args->mmproj,
                  "also write a matching synthetic encoder GGUF (mmproj: vision tower) here");
  sub->add_option("--mmproj-quant", args->mmproj_quant,
                  "mmproj tensor types: f32, f16 or q8_0 (the converter's layouts)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}))
      ->capture_default_str();
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_synth(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(52, add_model_synth_verb);

}  // namespace gemmad::ctl
