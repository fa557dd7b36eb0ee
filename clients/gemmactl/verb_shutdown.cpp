// `gemmactl shutdown [--no-wait] [--json]`: stops gemmad the way SIGTERM does (running turns
// drain and are stored), for the account it runs as, root and privacy.admin_group only.
#include <iostream>

#include "cli.h"
#include "daemon_link.h"

namespace gemmad::ctl {
namespace {

struct ShutdownArgs {
  bool no_wait = false;
  bool json = false;
};

int run_shutdown(const Globals& g, const ShutdownArgs& a) {
  int code = kExitOk;
  auto c = connect_daemon(g, code);
  if (!c) return code;
  auto st = c->status();
  if (!st.ok()) return report_client_error(g, st.error());
  const uint32_t pid = st->pid();
  if (Status s = c->shutdown(); !s.ok()) return report_client_error(g, s.error());
  // The daemon closes every connection once its drain is done: waiting for the end of this one
  // makes `gemmactl shutdown && gemmad ...` safe.
  bool stopped = false;
  if (!a.no_wait) {
    for (;;) {
      auto msg = c->next();
      if (!msg.ok()) break;
    }
    stopped = true;
  }
  if (a.json) {
    print_json({{"pid", pid}, {"stopped", stopped}});
  } else {
    std::cout << "gemmad (pid " << pid << ") " << (stopped ? "stopped" : "is shutting down")
              << "\n";
  }
  return kExitOk;
}

void add_shutdown_verb(VerbContext& ctx) {
  auto args = std::make_shared<ShutdownArgs>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "shutdown",
      "stop gemmad: running turns drain and are stored (its own account, root, admin group)");
  cmd->add_flag("--no-wait", args->no_wait, "return once gemmad accepted, not when it is done");
  cmd->add_flag("--json", args->json, "print {\"pid\", \"stopped\"}");
  cmd->callback([&ctx, args] {
    ctx.globals.json = args->json;
    ctx.exit_code = run_shutdown(ctx.globals, *args);
  });
}

}  // namespace
GEMMACTL_VERB(75, add_shutdown_verb);
}  // namespace gemmad::ctl
