// `gemmactl chat` without TEXT: an interactive conversation. Line editing and history through
// libedit when stdin is a terminal (history in $XDG_STATE_HOME/gemmactl/history), plain lines
// otherwise; slash commands; multi-line input (a trailing backslash, or a """ block); a failed
// turn is reported and the REPL stays open.
#pragma once

#include <functional>
#include <string>

#include "chat_options.h"
#include "cli.h"
#include "clients/cpp/client.h"

namespace gemmad::ctl {

// Runs one turn of `text` with `args` (updating args.session); returns its exit code.
using TurnFn = std::function<int(ChatArgs& args, const std::string& text)>;

// Reads until /bye or end of input. Returns 0, or 3 when the daemon went away.
int run_repl(const client::Client& c, const Globals& g, ChatArgs& args, const TurnFn& turn);

// Where the history lives: $XDG_STATE_HOME/gemmactl/history, else
// ~/.local/state/gemmactl/history; empty when neither variable is set.
std::string history_path();

}  // namespace gemmad::ctl
