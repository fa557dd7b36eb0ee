// `gemmactl model ls [--json]`: the daemon's configured models and the GGUF files of its
// models directory, with loaded state, resident bytes and last use.
#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli.h"
#include "daemon_link.h"

namespace gemmad::ctl {
namespace {

std::string when(int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

std::string keep_alive_text(int64_t ms) {
  if (ms < 0) return "forever";
  if (ms % 60000 == 0 && ms > 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

int run_model_ls(const Globals& g) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto list = c->list_models();
  if (!list.ok()) return report_client_error(g, list.error());
  if (g.json) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : list->models())
      models.push_back(model_json(m));
    print_json({{"models_dir", list->models_dir()}, {"models", models}});
    return kExitOk;
  }
  std::printf("%-20s %-8s %-7s %10s %10s %-9s %-19s %s\n", "NAME", "STATE", "VARIANT", "RESIDENT",
              "FILE", "KEEP", "LAST USE", "PATH");
  for (const auto& m : list->models()) {
    const char* state = !m.configured() ? "file" : m.loaded() ? "loaded" : "unloaded";
    std::printf("%-20s %-8s %-7s %10s %10s %-9s %-19s %s%s\n", m.model().c_str(), state,
                m.variant().empty() ? "-" : m.variant().c_str(),
                m.configured() ? mib(m.resident_bytes()).c_str() : "-", mib(m.file_bytes()).c_str(),
                m.configured() ? keep_alive_text(m.keep_alive_ms()).c_str() : "-",
                m.configured() ? when(m.last_used_ms()).c_str() : "-", m.path().c_str(),
                m.is_default() ? "  (default)" : "");
  }
  return kExitOk;
}

void add_model_ls_verb(VerbContext& ctx) {
  CLI::App* model = group(ctx.root, "model", "inspect, synthesise and import model files");
  CLI::App* sub =
      model->add_subcommand("ls", "the daemon's models and the GGUF files of its models directory");
  sub->add_flag("--json", ctx.globals.json, "JSON output");
  sub->callback([&ctx] { ctx.exit_code = run_model_ls(ctx.globals); });
}

}  // namespace
GEMMACTL_VERB(64, add_model_ls_verb);
}  // namespace gemmad::ctl
