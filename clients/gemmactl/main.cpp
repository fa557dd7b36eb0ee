// gemmactl: the shell client of gemmad. Verbs live in verb_*.cpp and register themselves.
#include <algorithm>
#include <iostream>
#include <string>

#include "cli.h"

namespace gemmad::ctl {
void install_verbs(VerbContext& ctx);

namespace {

// Options of the root that take a value: skipped when looking for the verb in argv.
bool takes_value(const std::string& arg) {
  return arg == "--socket" || arg == "--app";
}

// A parse error as the user should see it: which verb was not found (with the closest ones),
// or CLI11's message naming the verb it concerns, prefixed "gemmactl:" (or as JSON).
int report_parse_error(CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  Globals g;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--json") g.json = true;
  }
  CLI::App* level = &app;
  std::string path = "gemmactl";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (takes_value(arg)) {
      ++i;
      continue;
    }
    if (arg.rfind("-", 0) == 0) continue;
    const std::vector<std::string> verbs = verb_names(*level);
    if (verbs.empty()) break;  // a leaf verb: the word is its argument
    if (std::find(verbs.begin(), verbs.end(), arg) == verbs.end()) {
      std::string msg =
          "unknown verb '" + arg + "'" + (level == &app ? "" : " of '" + path.substr(9) + "'");
      const auto close = closest_words(arg, verbs);
      if (!close.empty()) {
        msg += "; did you mean";
        for (size_t k = 0; k < close.size(); ++k)
          msg += (k ? " or '" : " '") + close[k] + "'";
        msg += "?";
      }
      return report_usage_error(g, msg + " (see `" + path + " --help`)");
    }
    level = level->get_subcommand(arg);
    path += " " + arg;
  }
  std::string what = e.what();
  if (what == "A subcommand is required") {
    std::string list;
    for (const auto& v : verb_names(*level))
      list += (list.empty() ? "" : ", ") + v;
    what = "a verb is needed: " + list;
  }
  return report_usage_error(
      g, (level == &app ? "" : path.substr(9) + ": ") + what + " (see `" + path + " --help`)");
}

}  // namespace
}  // namespace gemmad::ctl

int main(int argc, char** argv) {
  using namespace gemmad::ctl;
  CLI::App app{
      "gemmactl: talk to the gemmad inference service, or run a verb offline with --model"};
  app.name("gemmactl");
  app.set_version_flag("--version", "gemmactl " + std::string(GEMMAD_VERSION));
  app.require_subcommand(1);
  // Global options are accepted after the verb too (`gemmactl chat --socket S ...`), as
  // systemctl does; verbs inherit this when they are created.
  app.fallthrough();
  Globals globals;
  int exit_code = kExitOk;
  app.add_option("--socket", globals.socket,
                 "daemon socket (default: $GEMMAD_SOCKET, else where gemmad started by this user "
                 "listens: /run/gemmad/gemmad.sock as root, $XDG_RUNTIME_DIR/gemmad.sock, or "
                 "/tmp/gemmad-UID.sock; else /run/gemmad/gemmad.sock)")
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
    return report_parse_error(app, e, argc, argv);
  }
  return exit_code;
}
