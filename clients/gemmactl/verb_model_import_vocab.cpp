// `gemmactl model import-vocab tokenizer.json -o OUT [--json] [--no-gemma4]`: a
// vocabulary-only GGUF from a Hugging Face tokenizer.json, with the Gemma 4 special-token
// renames of docs/TOKENIZER.md (docs/DESIGN.md command-line contract). The output is loaded back
// as a tokenizer before success is reported.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "cli.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_import.h"

namespace gemmad::ctl {
namespace {

struct ImportArgs {
  std::string input;
  std::string output;
  bool no_gemma4 = false;
};

int run_import(const ImportArgs& a, const Globals& g) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto progress = [&](const std::string& what) {
    if (!g.json) std::cerr << "import-vocab: " << what << "\n";
  };
  progress("reading " + a.input);
  tokenizer::VocabImportSummary sum;
  Result<tokenizer::VocabData> data =
      tokenizer::import_hf_tokenizer_file(a.input, {.gemma4 = !a.no_gemma4}, &sum);
  if (!data.ok()) return report_error(g, data.error());
  progress("writing " + a.output);
  if (Status st = tokenizer::write_vocab_gguf(*data, a.output); !st.ok()) {
    return report_error(g, st.error());
  }
  progress("verifying that " + a.output + " loads as a tokenizer");
  auto tok = tokenizer::Tokenizer::load(a.output);
  if (!tok.ok()) return report_error(g, tok.error());
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (g.json) {
    print_json({{"output", a.output},
                {"tokens", sum.n_tokens},
                {"merges", sum.n_merges},
                {"normal", sum.n_normal},
                {"control", sum.n_control},
                {"user_defined", sum.n_user_defined},
                {"byte", sum.n_byte},
                {"gemma4_renamed", sum.n_renamed},
                {"dropped_last", sum.dropped_last},
                {"seconds", seconds}});
  } else {
    std::cout << a.output << ": " << sum.n_tokens << " tokens (" << sum.n_normal << " normal, "
              << sum.n_control << " control, " << sum.n_user_defined << " user-defined, "
              << sum.n_byte << " byte), " << sum.n_merges << " merges";
    if (!a.no_gemma4) {
      std::cout << "; Gemma 4: " << sum.n_renamed << " special tokens renamed"
                << (sum.dropped_last ? ", <image_soft_token> (id 262144) dropped" : "");
    }
    std::cout << "\n";
  }
  return kExitOk;
}

void add_model_import_vocab_verb(VerbContext& ctx) {
  CLI::App* model = group(ctx.root, "model", "inspect, synthesise and import model files");
  CLI::App* sub = model->add_subcommand("import-vocab",
                                        "a vocabulary-only GGUF from a Hugging Face tokenizer.json "
                                        "(Gemma 4 special tokens applied)");
  auto args = std::make_shared<ImportArgs>();
  sub->add_option("tokenizer.json", args->input, "Hugging Face tokenizer.json")->required();
  add_output_option(sub, args->output, "output GGUF", true);
  sub->add_flag("--no-gemma4", args->no_gemma4,
                "import as is: no Gemma 4 renames, any vocabulary size");
  sub->add_flag("--json", ctx.globals.json, "print a JSON summary");
  Globals* g = &ctx.globals;
  int* exit_code = &ctx.exit_code;
  sub->callback([args, g, exit_code] { *exit_code = run_import(*args, *g); });
}

}  // namespace

GEMMACTL_VERB(13, add_model_import_vocab_verb);

}  // namespace gemmad::ctl
