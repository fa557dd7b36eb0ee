// gemmactl's shared command-line plumbing: exit codes (docs/DESIGN.md contract), the global
// options, JSON/error output, and self-registration of verbs (one verb_*.cpp file each).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace gemmad::ctl {

// Exit codes are part of the command-line contract (docs/ARCHITECTURE.md "gemmactl").
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,            // reported by the daemon or engine
  kExitUsage = 2,            // bad command line
  kExitNoDaemon = 3,         // cannot reach the daemon
  kExitBadModel = 4,         // bad model file
  kExitToolCallInvalid = 5,  // chat: the model's tool call did not parse (tool_call_invalid)
  kExitInterrupted = 130,
};

struct Globals {
  bool json = false;
  std::string socket;  // --socket; empty = $GEMMAD_SOCKET, user path, system path
  std::string app;     // --app; empty = $GEMMAD_APP, else "gemmactl"
};

// Error output: `{"error": {"code", "message"}}` on stderr with --json, else "gemmactl: msg".
// Returns the exit code for the error (bad_model_file -> 4, others -> 1 unless given).
int report_error(const Globals& g, const Error& e);
int report_error(const Globals& g, const std::string& code, const std::string& message,
                 int exit_code);
int exit_code_for(const Error& e);
// An error opening or reading a --model FILE: exit 4 (bad model file) whatever the cause, a
// missing or unreadable file included, as the contract says.
int report_model_error(const Globals& g, const Error& e);
// A usage error (exit 2): "gemmactl: MESSAGE", or {"error": {"code": "usage", ...}} with --json.
int report_usage_error(const Globals& g, const std::string& message);

// The candidates closest to `word` by edit distance (at most 2, or a third of its length),
// best first; for "did you mean".
std::vector<std::string> closest_words(const std::string& word,
                                       const std::vector<std::string>& candidates);

// One JSON document on stdout.
void print_json(const nlohmann::json& doc);

// --ids "2 651 1234" or "2,651,1234": token ids, or an error naming the word that is not one.
Result<std::vector<int32_t>> parse_token_ids(const std::string& text);

// Returns the subcommand `name` of `parent`, creating it (with `description`) if needed, so
// that verbs of one group ("model inspect", "model synth") can live in separate files.
CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description);

// The output-file option, one spelling for every verb: -o/--output FILE (plus a hidden --out,
// the spelling some verbs had first). `required`: parsing fails (exit 2) without either.
void add_output_option(CLI::App* verb, std::string& out, const std::string& description,
                       bool required);

// The verbs of `app` (subcommands), in registration order.
std::vector<std::string> verb_names(const CLI::App& app);

// A verb adds its subcommand(s) to the root app; its callback sets `exit_code`.
struct VerbContext {
  CLI::App& root;
  Globals& globals;
  int& exit_code;
};
using VerbRegistrar = void (*)(VerbContext&);
bool register_verb(int order, VerbRegistrar fn);

}  // namespace gemmad::ctl

// In a verb_*.cpp: GEMMACTL_VERB(30, add_tokenize_verb). Order sets --help listing order.
#define GEMMACTL_VERB(order, fn) \
  static const bool gemmactl_verb_registered_##fn = ::gemmad::ctl::register_verb(order, fn)
