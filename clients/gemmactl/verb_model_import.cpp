// `gemmactl model import DIR -o OUT.gguf [--vocab V.gguf] [--quant f16|f32|q4_0] [--json]`: a
// Hugging Face Gemma 4 checkpoint (Google's mobile quantization in its transformers or
// compressed-tensors layout, or unquantized bf16/f16) -> a GGUF gemmad runs
// (docs/FORMATS.md). Progress on stderr; the output is loaded back through the engine's loader
// before success is reported.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "cli.h"
#include "import/importer.h"
#include "runtime/model.h"

namespace gemmad::ctl {
namespace {

struct ModelImportArgs {
  std::string dir;
  std::string output;
  std::string vocab;
  std::string quant = "f16";
};

int run_model_import(const ModelImportArgs& a, const Globals& g) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  import::ImportOptions o;
  o.dir = a.dir;
  o.output = a.output;
  o.vocab_path = a.vocab;
  if (a.quant == "q4_0") {
    o.float_target = import::FloatTarget::kQ4_0;
  } else if (a.quant == "f32") {
    o.float_target = import::FloatTarget::kF32;
  } else if (a.quant != "f16") {
    return report_error(g, make_error(ErrorCode::kInvalidArgument,
                                      "--quant is '" + a.quant + "'; expected f16, f32 or q4_0"));
  }
  const auto log = [](const std::string& line) { std::cerr << "import: " << line << "\n"; };
  Result<import::ImportSummary> sum = import::import_checkpoint(o, log);
  if (!sum.ok()) return report_error(g, sum.error());
  for (const std::string& w : sum->warnings)
    std::cerr << "import: warning: " << w << "\n";
  log("verifying that " + a.output + " loads");
  auto model = runtime::Model::load(a.output);
  if (!model.ok()) return report_error(g, model.error());
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string layout(import::layout_name(sum->layout));
  if (g.json) {
    print_json({{"output", a.output},
                {"layout", layout},
                {"shards", sum->n_shards},
                {"file_bytes", sum->file_bytes},
                {"gq2", sum->n_quantized[0]},
                {"gq4", sum->n_quantized[1]},
                {"gq8", sum->n_quantized[2]},
                {"float_matrices", sum->n_float},
                {"input_scales", sum->n_input_scales},
                {"output_scales", sum->n_output_scales},
                {"zero_scales", sum->n_zero_scales},
                {"kv_scale_layers", sum->n_kv_scales},
                {"ignored_tensors", sum->n_ignored},
                {"warnings", sum->warnings},
                {"seconds", seconds}});
  } else {
    std::cout << a.output << ": " << layout << " checkpoint, " << sum->file_bytes << " bytes; "
              << "matrices gq2 " << sum->n_quantized[0] << ", gq4 " << sum->n_quantized[1]
              << ", gq8 " << sum->n_quantized[2] << ", float " << sum->n_float
              << "; static scales in " << sum->n_input_scales << " / out " << sum->n_output_scales
              << " (" << sum->n_zero_scales << " zero, skipped); KV scales on " << sum->n_kv_scales
              << " layers; " << sum->n_ignored << " tensors not imported\n";
  }
  return kExitOk;
}

void add_model_import_verb(VerbContext& ctx) {
  CLI::App* model = group(ctx.root, "model", "inspect, synthesise and import model files");
  CLI::App* sub = model->add_subcommand(
      "import",
      "a GGUF from a Hugging Face Gemma 4 checkpoint directory (mobile quantization "
      "in either layout, or bf16/f16)");
  auto args = std::make_shared<ModelImportArgs>();
  sub->add_option("DIR", args->dir, "checkpoint directory (config.json, *.safetensors)")
      ->required();
  sub->add_option("-o,--output", args->output, "output GGUF")->required();
  sub->add_option("--vocab", args->vocab,
                  "vocabulary GGUF to copy tokenizer.* from (default: DIR/tokenizer.json)");
  sub->add_option("--quant", args->quant,
                  "type of unquantized matrices: f16 (default), f32 (exact) or q4_0");
  sub->add_flag("--json", ctx.globals.json, "print a JSON summary");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_model_import(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(12, add_model_import_verb);

}  // namespace gemmad::ctl
