// The one socket lookup of gemmad and its clients (docs/ARCHITECTURE.md "Finding the socket"):
// where a daemon listens by default, and where a client looks for it, from the same rules.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

namespace gemmad::ipc {

// The system service's socket (systemd socket unit, docs/ARCHITECTURE.md "Files and places").
inline constexpr const char* kSystemSocketPath = "/run/gemmad/gemmad.sock";
// The user-mode socket's name inside $XDG_RUNTIME_DIR.
inline constexpr const char* kUserSocketName = "gemmad.sock";

// What the lookup depends on, gathered once so tests can give any machine's view.
struct SocketEnv {
  std::string gemmad_socket;    // $GEMMAD_SOCKET; empty = unset
  std::string xdg_runtime_dir;  // $XDG_RUNTIME_DIR; empty = unset
  uid_t uid = 0;                // the effective uid
};

// This process's view: the two variables and geteuid().
SocketEnv socket_env();

// Where a daemon started in `env` listens unless told otherwise: $GEMMAD_SOCKET; as root the
// system path; else $XDG_RUNTIME_DIR/gemmad.sock; else /tmp/gemmad-UID.sock (a per-user name,
// so two users without a runtime directory do not collide).
std::string default_listen_path(const SocketEnv& env);

// Where a client in `env` connects: `flag` (--socket); else $GEMMAD_SOCKET; else the first
// existing of the daemon default of this same environment (default_listen_path) and the
// system path; else that daemon default, so a "cannot reach" message names the likeliest
// place. A daemon and a client run by one user in one shell therefore always agree.
// `exists` is injectable for tests.
std::string resolve_socket_path(std::string_view flag, const SocketEnv& env,
                                const std::function<bool(const std::string&)>& exists);

// The same with socket_env() and existence by stat(2) (a socket file).
std::string resolve_socket_path(std::string_view flag);

}  // namespace gemmad::ipc
