// gemmactl: the shell client of gemmad. Verbs live in verb_*.cpp and register themselves.
#include <iostream>
#include <string>

#include "cli.h"

namespace gemmad::ctl {
void install_verbs(VerbContext& ctx);
}

int main(int argc, char** argv) {
  using namespace gemmad::ctl;
  CLI::App app{
      "gemmactl: talk to the gemmad inference service, or run a verb offline with --model"};
  app.name("gemmactl");
  app.set_version_flag("--version", std::string(GEMMAD_VERSION));
  app.require_subcommand(1);
  // Global options are accepted after the verb too (`gemmactl chat --socket S ...`), as
  // systemctl does; verbs inherit this when they are created.
  app.fallthrough();
  Globals globals;
  int exit_code = kExitOk;
  app.add_option("--socket", globals.socket,
                 "daemon socket (default: $GEMMAD_SOCKET, then "
                 "$XDG_RUNTIME_DIR/gemmad.sock, then /run/gemmad/gemmad.sock)")
      ->envname("GEMMAD_SOCKET");
  app.add_option("--app", globals.app,
                 "app name announced to the daemon; an app sees only its own sessions "
                 "(default: $GEMMAD_APP, else gemmactl)");
  VerbContext ctx{app, globals, exit_code};
  install_verbs(ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 says "A subcommand is required" for a misspelt verb: name the word instead.
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--socket" || arg == "--app") {
        ++i;
        continue;
      }
      if (arg.rfind("-", 0) == 0) continue;
      if (app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == arg; }).empty()) {
        std::cerr << "gemmactl: unknown verb '" << arg << "' (see gemmactl --help)\n";
        return kExitUsage;
      }
      break;
    }
    app.exit(e);
    return kExitUsage;
  }
  return exit_code;
}
