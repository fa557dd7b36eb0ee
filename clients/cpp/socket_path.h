// Where clients find the daemon: DESIGN.md "Command-line contract" (--socket, then
// $GEMMAD_SOCKET, then the user-mode path, then the system path).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace gemmad::client {

// DESIGN.md "Files and places": the system service's socket (systemd socket unit).
inline constexpr const char* kSystemSocketPath = "/run/gemmad/gemmad.sock";
// The user-mode socket's name inside $XDG_RUNTIME_DIR.
inline constexpr const char* kUserSocketName = "gemmad.sock";

struct SocketPathSources {
  std::string flag;             // --socket; empty = not given
  std::string env_socket;       // $GEMMAD_SOCKET; empty = unset
  std::string xdg_runtime_dir;  // $XDG_RUNTIME_DIR; empty = unset
};

// The first of: flag, env_socket, the user-mode path ($XDG_RUNTIME_DIR/gemmad.sock) if it
// exists, the system path if it exists. When neither daemon socket exists, the user-mode path
// if $XDG_RUNTIME_DIR is set (user mode is the README's default), else the system path, so the
// "cannot reach" message names the likeliest place. `exists` is injectable for tests.
std::string resolve_socket_path(const SocketPathSources& sources,
                                const std::function<bool(const std::string&)>& exists);

// The same, with $GEMMAD_SOCKET and $XDG_RUNTIME_DIR from the environment and existence by
// stat(2).
std::string resolve_socket_path(std::string_view flag);

}  // namespace gemmad::client
