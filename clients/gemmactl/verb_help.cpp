// `gemmactl help [VERB...]` (the same text as `VERB --help`) and `gemmactl version [--json]`.
#include <algorithm>
#include <iostream>

#include "cli.h"

namespace gemmad::ctl {
namespace {

int run_help(CLI::App& root, const Globals& g, const std::vector<std::string>& words) {
  CLI::App* level = &root;
  std::string path = "gemmactl";
  for (const auto& w : words) {
    const std::vector<std::string> verbs = verb_names(*level);
    if (std::find(verbs.begin(), verbs.end(), w) == verbs.end()) {
      std::string msg = "help: no verb '" + w + "'" + (level == &root ? "" : " in '" + path + "'");
      const auto close = closest_words(w, verbs);
      if (!close.empty()) msg += "; did you mean '" + close.front() + "'?";
      return report_usage_error(g, msg);
    }
    level = level->get_subcommand(w);
    path += " " + w;
  }
  // The formatter directly: App::help() would descend into the selected subcommand, `help`.
  std::cout << level->get_formatter()->make_help(level, path, CLI::AppFormatMode::Normal);
  return kExitOk;
}

void add_help_verbs(VerbContext& ctx) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* help =
      ctx.root.add_subcommand("help", "help for gemmactl or for VERB (as VERB --help)");
  help->add_option("verb", *words, "a verb, e.g. `chat` or `session ls`");
  help->callback([&ctx, words] { ctx.exit_code = run_help(ctx.root, ctx.globals, *words); });

  CLI::App* version = ctx.root.add_subcommand("version", "print gemmactl's version");
  version->add_flag("--json", ctx.globals.json, "as {\"version\": ...}");
  version->callback([&ctx] {
    if (ctx.globals.json) {
      print_json({{"version", GEMMAD_VERSION}, {"program", "gemmactl"}});
    } else {
      std::cout << "gemmactl " << GEMMAD_VERSION << "\n";
    }
    ctx.exit_code = kExitOk;
  });
}

}  // namespace
GEMMACTL_VERB(95, add_help_verbs);
}  // namespace gemmad::ctl
