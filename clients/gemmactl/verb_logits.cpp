// `gemmactl logits --model FILE --ids "2 ..." -o F [--mode batch|step] [--kv-type PRESET]
// [--threads T] [--tap DIR]`: raw float32 logits [positions][vocab], row-major, for comparison
// against the NumPy reference (docs/DESIGN.md command-line contract). batch = one forward pass
// over all ids with logits for every row; step = one token per pass. --tap dumps every named
// intermediate (runtime/tap.h) so a mismatch can be pinned to one op of one layer.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "kv_type_option.h"
#include "models/gemma4.h"
#include "runtime/model.h"

namespace gemmad::ctl {
namespace {

struct LogitsArgs {
  std::string model;
  std::string ids;
  std::string out;
  std::string mode = "batch";
  std::string kv_type = "f16";
  int threads = 0;
  std::string tap;
};

int run_logits(const LogitsArgs& a, const Globals& g) {
  auto ids = parse_token_ids(a.ids);
  if (!ids.ok()) return report_error(g, "invalid_argument", ids.error().message, kExitUsage);
  auto model = runtime::Model::load(a.model);
  if (!model.ok()) return report_model_error(g, model.error());
  const runtime::Model& m = **model;
  for (const std::string& note : m.shape_notes())
    std::fprintf(stderr, "gemmactl: note: %s\n", note.c_str());

  kernels::ThreadPool pool(a.threads);
  engine::Gemma4Forward fwd(m.config(), m.weights(), pool);
  if (!a.tap.empty()) {
    auto tap = runtime::make_dir_tap(a.tap);
    if (!tap.ok()) return report_error(g, tap.error());
    fwd.set_tap(std::move(tap).value());
  }
  runtime::KvCacheOptions kv_opts;
  kv_opts.n_ctx = static_cast<uint32_t>(ids->size());
  kv_opts.type = kv_types_of(a.kv_type);
  runtime::KvCachePool kv = m.new_kv_pool(kv_opts);
  if (kv.options().n_ctx < ids->size()) {
    return report_error(g, "out_of_range",
                        std::to_string(ids->size()) + " ids exceed the model's context of " +
                            std::to_string(kv.options().n_ctx),
                        kExitError);
  }

  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(a.out.c_str(), "wb"), &std::fclose);
  if (!out) {
    return report_error(g, "io", "cannot open '" + a.out + "' for writing", kExitError);
  }
  engine::ForwardOutput fo;
  runtime::Batch batch;
  auto run = [&](size_t begin, size_t end) -> Status {
    batch.clear();
    for (size_t i = begin; i < end; ++i) {
      batch.add((*ids)[i], static_cast<int32_t>(i), 0, true);
    }
    GEMMAD_TRY(fwd.forward(batch, kv, fo));
    if (std::fwrite(fo.logits.data(), sizeof(float), fo.logits.size(), out.get()) !=
        fo.logits.size()) {
      return make_error(ErrorCode::kIo, "writing '" + a.out + "' failed");
    }
    return {};
  };
  Status st;
  if (a.mode == "batch") {
    st = run(0, ids->size());
  } else {
    for (size_t i = 0; i < ids->size() && st.ok(); ++i)
      st = run(i, i + 1);
  }
  if (!st.ok()) return report_error(g, st.error());
  if (std::fflush(out.get()) != 0) {
    return report_error(g, "io", "writing '" + a.out + "' failed", kExitError);
  }
  if (g.json) {
    print_json({{"out", a.out},
                {"positions", ids->size()},
                {"vocab", m.config().n_vocab},
                {"mode", a.mode},
                {"kv_type", a.kv_type},
                {"kernels", kernels::kernel_set_name()},
                {"threads", pool.size()}});
  }
  return kExitOk;
}

void add_logits_verb(VerbContext& ctx) {
  CLI::App* sub = ctx.root.add_subcommand(
      "logits", "write raw float32 logits [positions][vocab] of a token id list (offline)");
  auto args = std::make_shared<LogitsArgs>();
  sub->add_option("--model", args->model, "GGUF model file")->required();
  sub->add_option("--ids", args->ids, "token ids, space- or comma-separated, e.g. \"2 651\"")
      ->required();
  add_output_option(sub, args->out, "output file: float32 [positions][vocab], row-major", true);
  sub->add_option("--mode", args->mode, "batch: one pass over all ids; step: one id per pass")
      ->check(CLI::IsMember({"batch", "step"}))
      ->capture_default_str();
  add_kv_type_option(sub, args->kv_type);
  sub->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  sub->add_option("--tap", args->tap,
                  "dump every named intermediate into this directory (also: $GEMMAD_TAP)");
  sub->add_flag("--json", ctx.globals.json, "print a JSON summary");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_logits(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(35, add_logits_verb);

}  // namespace gemmad::ctl
