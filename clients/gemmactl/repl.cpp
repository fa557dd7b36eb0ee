// The chat REPL (see repl.h).
#include "repl.h"

#include <unistd.h>
// libedit's readline-compatible interface (Debian libedit-dev).
#include <editline/readline.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>

namespace gemmad::ctl {
namespace {

constexpr const char* kHelp =
    "  /help                 this list\n"
    "  /new                  start a new session (the next message opens it)\n"
    "  /system TEXT          a new session with this system prompt (/system alone: none)\n"
    "  /think [on|off]       let the model think before answering (toggles without a word)\n"
    "  /set [NAME VALUE]     sampling: temp, top-k, top-p, min-p, repeat-penalty, seed,\n"
    "                        max-tokens (/set alone shows them)\n"
    "  /bye                  leave (also /exit, /quit, Ctrl-D)\n"
    "  a line ending in \\ continues on the next; \"\"\" on its own line opens and closes a\n"
    "  block of several lines\n";

// Line input: libedit on a terminal, std::getline otherwise (pipes, scripts).
class LineReader {
 public:
  explicit LineReader(bool tty) : tty_(tty) {
    if (!tty_) return;
    using_history();
    path_ = history_path();
    if (!path_.empty()) read_history(path_.c_str());
  }
  ~LineReader() {
    if (!tty_ || path_.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    write_history(path_.c_str());
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  std::optional<std::string> read(const char* prompt) {
    if (!tty_) {
      std::string line;
      if (!std::getline(std::cin, line)) return std::nullopt;
      return line;
    }
    char* raw = readline(prompt);
    if (raw == nullptr) return std::nullopt;
    std::string line(raw);
    std::free(raw);
    return line;
  }
  void remember(const std::string& entry) {
    if (tty_ && !entry.empty()) add_history(entry.c_str());
  }

 private:
  bool tty_;
  std::string path_;
};

// One message: a line, lines joined by trailing backslashes, or a """ block.
std::optional<std::string> read_message(LineReader& in) {
  auto first = in.read(">>> ");
  if (!first) return std::nullopt;
  std::string text = *first;
  if (text == "\"\"\"") {
    text.clear();
    for (;;) {
      auto more = in.read("... ");
      if (!more || *more == "\"\"\"") break;
      text += (text.empty() ? "" : "\n") + *more;
    }
    return text;
  }
  while (!text.empty() && text.back() == '\\') {
    text.back() = '\n';
    auto more = in.read("... ");
    if (!more) break;
    text += *more;
  }
  return text;
}

void banner(const client::Client& c, const ChatArgs& args) {
  const auto& m = c.server_hello().model();
  std::cerr << "gemmactl chat: model " << (m.name().empty() ? m.path() : m.name())
            << (m.variant().empty() ? "" : " [" + m.variant() + "]") << ", session "
            << (args.session.empty() ? "new" : args.session) << (args.think ? ", thinking" : "")
            << "\n/help lists the commands; /bye or Ctrl-D leaves\n";
}

// A slash command; returns false for /bye.
bool command(const std::string& line, const Globals& g, ChatArgs& args) {
  std::istringstream words(line);
  std::string cmd;
  words >> cmd;
  std::string rest;
  std::getline(words >> std::ws, rest);
  if (cmd == "/bye" || cmd == "/exit" || cmd == "/quit") return false;
  if (cmd == "/help" || cmd == "/?") {
    std::cerr << kHelp;
  } else if (cmd == "/new") {
    args.session.clear();
    std::cerr << "a new session starts with the next message\n";
  } else if (cmd == "/system") {
    args.session.clear();
    args.system = rest;
    std::cerr << (rest.empty() ? "no system prompt" : "system prompt set")
              << "; a new session starts with the next message\n";
  } else if (cmd == "/think") {
    if (rest == "on" || rest == "off") {
      args.think = rest == "on";
    } else if (rest.empty()) {
      args.think = !args.think;
    } else {
      report_usage_error(g, "/think: '" + rest + "' is not on or off");
      return true;
    }
    std::cerr << "thinking " << (args.think ? "on" : "off") << "\n";
  } else if (cmd == "/set") {
    if (rest.empty()) {
      std::cerr << describe_sampling(args.sampling) << "\n";
      return true;
    }
    std::istringstream kv(rest);
    std::string name, value, extra;
    kv >> name >> value >> extra;
    if (value.empty() || !extra.empty()) {
      report_usage_error(g, "/set: give NAME VALUE, e.g. /set temp 0.7");
      return true;
    }
    if (Status st = set_sampling(args.sampling, name, value); !st.ok()) {
      report_usage_error(g, st.error().message);
      return true;
    }
    std::cerr << name << " = " << value << "\n";
  } else {
    const auto close = closest_words(
        cmd, {"/help", "/new", "/system", "/think", "/set", "/bye", "/exit", "/quit"});
    report_usage_error(g, "unknown command " + cmd +
                              (close.empty() ? "" : "; did you mean " + close.front() + "?") +
                              " (/help lists them)");
  }
  return true;
}

}  // namespace

std::string history_path() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    return std::string(state) + "/gemmactl/history";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.local/state/gemmactl/history";
  return "";
}

int run_repl(const client::Client& c, const Globals& g, ChatArgs& args, const TurnFn& turn) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  LineReader in(tty);
  if (tty) banner(c, args);
  for (;;) {
    auto text = read_message(in);
    if (!text) break;
    if (text->empty()) continue;
    in.remember(*text);
    if ((*text)[0] == '/') {
      if (!command(*text, g, args)) break;
      continue;
    }
    const int code = turn(args, *text);
    // A failed turn (too long, a bad option, a cancel) was reported; the REPL goes on unless
    // the daemon itself is gone.
    if (code == kExitNoDaemon) return code;
  }
  return kExitOk;
}

}  // namespace gemmad::ctl
