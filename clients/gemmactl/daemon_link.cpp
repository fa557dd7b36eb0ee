// Connecting gemmactl to gemmad; see daemon_link.h.
#include "daemon_link.h"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "ipc/socket_path.h"
#include "store/session_id.h"

namespace gemmad::ctl {
namespace {
client::Interrupter g_interrupter;
volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_old_action;

void on_sigint(int) {
  g_interrupted = 1;
  g_interrupter.trigger();  // a single write(2): async-signal-safe
}
}  // namespace

std::string app_name(const Globals& g) {
  if (!g.app.empty()) return g.app;
  const char* env = std::getenv("GEMMAD_APP");
  return env && *env ? env : "gemmactl";
}

std::optional<client::Client> connect_daemon(const Globals& g, int& exit_code) {
  const std::string path = ipc::resolve_socket_path(g.socket);
  auto c = client::Client::connect(path);
  if (!c.ok()) {
    exit_code = report_error(g, "unreachable",
                             c.error().message +
                                 " (start it with `gemmad --model FILE`, or pass --socket / "
                                 "--model for an offline run)",
                             kExitNoDaemon);
    return std::nullopt;
  }
  auto hello = c->hello(app_name(g));
  if (!hello.ok()) {
    exit_code = report_client_error(g, hello.error());
    return std::nullopt;
  }
  return std::move(c).value();
}

InterruptScope::InterruptScope(const client::Client& client) {
  g_interrupter = client.interrupter();
  g_interrupted = 0;
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_action);
}

InterruptScope::~InterruptScope() {
  sigaction(SIGINT, &g_old_action, nullptr);
  g_interrupter = client::Interrupter();
}

bool InterruptScope::interrupted() {
  return g_interrupted != 0;
}
void InterruptScope::clear() {
  g_interrupted = 0;
}

int report_client_error(const Globals& g, const Error& e) {
  if (e.code == ErrorCode::kIo) {
    return report_error(g, "unreachable", "lost the connection to gemmad: " + e.message,
                        kExitNoDaemon);
  }
  return report_error(g, e);
}

nlohmann::json model_json(const v1::ModelInfo& m) {
  nlohmann::json modalities = nlohmann::json::array();
  for (const v1::ModalityInfo& x : m.modalities()) {
    modalities.push_back({{"modality", x.modality()},
                          {"mapped", x.bound()},
                          {"weight_bytes", x.mapped_bytes()},
                          {"resident_bytes", x.resident_bytes()},
                          {"last_used_ms", x.last_used_ms()},
                          {"encodes", x.encodes()}});
  }
  return {{"name", m.model()},
          {"general_name", m.name()},
          {"path", m.path()},
          {"configured", m.configured()},
          {"default", m.is_default()},
          {"loaded", m.loaded()},
          {"variant", m.variant()},
          {"n_ctx", m.n_ctx()},
          {"vocab_size", m.vocab_size()},
          {"file_bytes", m.file_bytes()},
          {"resident_bytes", m.resident_bytes()},
          {"last_used_ms", m.last_used_ms()},
          {"keep_alive_ms", m.keep_alive_ms()},
          {"active", m.active()},
          {"mmproj_path", m.mmproj_path()},
          {"modalities", std::move(modalities)}};
}

std::string mib(uint64_t bytes) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

Result<std::string> resolve_session_id(client::Client& c, const std::string& prefix) {
  if (prefix.size() >= store::kSessionIdChars) return prefix;
  if (prefix.empty()) return make_error(ErrorCode::kInvalidArgument, "session id: empty");
  GEMMAD_ASSIGN_OR_RETURN(v1::SessionList list, c.list_sessions(0));
  std::vector<const v1::SessionInfo*> hits;
  for (const auto& s : list.sessions()) {
    if (s.id().rfind(prefix, 0) == 0) hits.push_back(&s);
  }
  if (hits.empty()) {
    return make_error(ErrorCode::kNotFound, "no session of this app starts with '" + prefix + "'");
  }
  if (hits.size() > 1) {
    std::string msg = "session id '" + prefix + "' is ambiguous; it starts " +
                      std::to_string(hits.size()) + " sessions:";
    for (const auto* s : hits)
      msg += "\n  " + s->id() + "  " + s->title();
    return make_error(ErrorCode::kInvalidArgument, msg);
  }
  return hits.front()->id();
}

int stream_exit_code(const Globals& g, v1::StopReason r) {
  if (r == v1::STOP_REASON_CANCELLED) {
    if (!g.json) std::cerr << "[cancelled]\n";
    return kExitInterrupted;
  }
  if (r == v1::STOP_REASON_SHUTDOWN) {
    if (!g.json) std::cerr << "gemmactl: gemmad shut down during the turn; what it wrote is kept\n";
    return kExitNoDaemon;
  }
  return kExitOk;
}

const char* stop_reason_name(v1::StopReason r) {
  switch (r) {
    case v1::STOP_REASON_EOS:
      return "eos";
    case v1::STOP_REASON_STOP_TOKEN:
      return "stop_token";
    case v1::STOP_REASON_MAX_TOKENS:
      return "max_tokens";
    case v1::STOP_REASON_CANCELLED:
      return "cancelled";
    case v1::STOP_REASON_CONTEXT_FULL:
      return "context_full";
    case v1::STOP_REASON_STOP_STRING:
      return "stop_string";
    case v1::STOP_REASON_SHUTDOWN:
      return "shutdown";
    case v1::STOP_REASON_TOOL_CALLS:
      return "tool_calls";
    case v1::STOP_REASON_TOOL_CALL_INVALID:
      return "tool_call_invalid";
    default:  // UNSPECIFIED, and values of a newer daemon
      return "unspecified";
  }
}

}  // namespace gemmad::ctl
