// How gemmactl's online verbs reach the daemon: socket resolution (docs/DESIGN.md contract),
// connect + Hello with this app's name, and Ctrl-C wiring to the client's interrupter.
#pragma once

#include <optional>
#include <string>

#include "cli.h"
#include "clients/cpp/client.h"

namespace gemmad::ctl {

// The app name gemmactl announces in Hello: --app, else $GEMMAD_APP, else "gemmactl".
std::string app_name(const Globals& g);

// Connects and says Hello. On failure reports the error (exit 3 for "cannot reach") and
// returns nullopt with `exit_code` set.
std::optional<client::Client> connect_daemon(const Globals& g, int& exit_code);

// While alive, SIGINT triggers `client`'s interrupter (cancel the running turn) instead of
// killing gemmactl; interrupted() tells whether it fired.
class InterruptScope {
 public:
  explicit InterruptScope(const client::Client& client);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  static bool interrupted();
  static void clear();
};

// The --json name of a Done's stop reason: eos, stop_token, max_tokens, cancelled (this
// client's Ctrl-C or Cancel), context_full, shutdown (gemmad drained the turn as it stopped).
const char* stop_reason_name(v1::StopReason r);
// One model of StatusReply / ModelList as JSON (gemmactl status, model ls).
nlohmann::json model_json(const v1::ModelInfo& m);
// "12.3 MiB".
std::string mib(uint64_t bytes);

// The exit code of a finished stream, telling the two early ends apart: cancelled -> 130
// (notes "[cancelled]" on stderr), shutdown -> 3 (notes that gemmad stopped and the partial
// reply is stored); others 0. Notes are left out with --json (stop_reason says it).
int stream_exit_code(const Globals& g, v1::StopReason r);

// A session id given by a unique prefix, like git's abbreviated ids: a full id is returned
// as is; else the one of this app's sessions that starts with `prefix`. No match is
// kNotFound; several are kInvalidArgument listing them (id and title).
Result<std::string> resolve_session_id(client::Client& c, const std::string& prefix);

// Reports a daemon/client error; kIo (the daemon went away) exits 3, others by code.
int report_client_error(const Globals& g, const Error& e);

}  // namespace gemmad::ctl
