// `gemmactl status`: the daemon, its model, memory, queue, clients and batch sizes used.
#include <iostream>

#include "cli.h"
#include "daemon_link.h"

namespace gemmad::ctl {
namespace {

int run_status(const Globals& g, bool json) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto s = c->status();
  if (!s.ok()) return report_client_error(g, s.error());
  nlohmann::json hist = nlohmann::json::array();
  for (const auto& h : s->batch().histogram()) {
    hist.push_back({{"batch_size", h.batch_size()}, {"steps", h.steps()}});
  }
  nlohmann::json models = nlohmann::json::array();
  for (const auto& m : s->models())
    models.push_back(model_json(m));
  if (json) {
    print_json({{"daemon",
                 {{"version", s->daemon_version()},
                  {"pid", s->pid()},
                  {"uptime_ms", s->uptime_ms()},
                  {"kernel_set", s->kernel_set()},
                  {"network_filter", s->network_filter()},
                  {"peer_ids_mapped", s->peer_ids_mapped()},
                  {"identity_mapping", s->identity_mapping()},
                  {"landlock", s->landlock()}}},
                {"model",
                 {{"name", s->model().name()},
                  {"variant", s->model().variant()},
                  {"path", s->model().path()},
                  {"n_ctx", s->model().n_ctx()},
                  {"vocab_size", s->model().vocab_size()}}},
                {"models", models},
                {"sessions_stored", s->sessions_stored()},
                {"memory",
                 {{"rss_bytes", s->memory().rss_bytes()},
                  {"mapped_bytes", s->memory().mapped_bytes()},
                  {"resident_weight_bytes", s->memory().resident_weight_bytes()}}},
                {"queue", {{"active", s->queue().active()}, {"queued", s->queue().queued()}}},
                {"clients", s->clients_connected()},
                {"batch",
                 {{"histogram", hist},
                  {"total_decode_steps", s->batch().total_decode_steps()},
                  {"total_tokens", s->batch().total_tokens()},
                  {"cpu_seconds", s->batch().cpu_seconds()},
                  {"cpu_seconds_per_token", s->batch().cpu_seconds_per_token()},
                  {"kv_restored", s->batch().kv_restored()}}}});
    return kExitOk;
  }
  std::cout << "gemmad " << s->daemon_version() << " (pid " << s->pid() << ", up "
            << s->uptime_ms() / 1000 << " s, kernels " << s->kernel_set() << ", network "
            << (s->network_filter() ? "blocked" : "NOT blocked") << ")\n"
            << "callers: " << s->identity_mapping() << "\n"
            << "privacy: seccomp " << (s->network_filter() ? "on" : "off") << ", "
            << (s->landlock().empty() ? "landlock unknown (older gemmad)" : s->landlock()) << "\n"
            << "model:   " << s->model().name() << " ["
            << (s->model().variant().empty() ? "custom" : s->model().variant()) << "] "
            << s->model().path() << ", context " << s->model().n_ctx() << "\n";
  for (const auto& m : s->models()) {
    std::cout << "  " << m.model() << ": " << (m.loaded() ? "loaded" : "unloaded") << ", resident "
              << mib(m.resident_bytes()) << ", context " << m.n_ctx() << ", " << m.active()
              << " request(s)" << (m.is_default() ? " (default)" : "") << "\n";
    for (const auto& x : m.modalities()) {
      // Per encoder of its mmproj: bound on first use, released after media.encoder_idle_s.
      std::cout << "    " << x.modality() << ": " << (x.bound() ? "mapped" : "not mapped")
                << ", resident " << mib(x.resident_bytes()) << " of " << mib(x.mapped_bytes())
                << ", " << x.encodes() << " encode(s), last use "
                << (x.last_used_ms() == 0 ? std::string("never")
                                          : std::to_string(x.last_used_ms()) + " (unix ms)")
                << "\n";
    }
  }
  std::cout << "memory:  rss " << mib(s->memory().rss_bytes()) << ", mapped "
            << mib(s->memory().mapped_bytes()) << ", resident weights "
            << mib(s->memory().resident_weight_bytes()) << "\n"
            << "queue:   " << s->queue().active() << " active, " << s->queue().queued()
            << " queued; " << s->clients_connected() << " client(s)\n"
            << "batches: " << s->batch().total_decode_steps() << " decode steps, "
            << s->batch().total_tokens() << " tokens;";
  for (const auto& h : s->batch().histogram()) {
    std::cout << " " << h.batch_size() << "x" << h.steps();
  }
  std::cout << "\ncpu:     " << s->batch().cpu_seconds() << " s, "
            << s->batch().cpu_seconds_per_token() << " s per generated token; "
            << s->batch().kv_restored() << " session(s) resumed from saved KV\n";
  return kExitOk;
}

void add_status_verb(VerbContext& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = ctx.root.add_subcommand("status", "daemon, model, memory, queue and clients");
  cmd->add_flag("--json", *json, "JSON output");
  cmd->callback([&ctx, json] {
    ctx.globals.json = *json;
    ctx.exit_code = run_status(ctx.globals, *json);
  });
}

}  // namespace
GEMMACTL_VERB(70, add_status_verb);
}  // namespace gemmad::ctl
