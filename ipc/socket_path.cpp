// The shared socket lookup (see socket_path.h).
#include "ipc/socket_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace gemmad::ipc {

SocketEnv socket_env() {
  SocketEnv env;
  if (const char* v = std::getenv("GEMMAD_SOCKET")) env.gemmad_socket = v;
  if (const char* v = std::getenv("XDG_RUNTIME_DIR")) env.xdg_runtime_dir = v;
  env.uid = ::geteuid();
  return env;
}

std::string default_listen_path(const SocketEnv& env) {
  if (!env.gemmad_socket.empty()) return env.gemmad_socket;
  if (env.uid == 0) return kSystemSocketPath;
  if (!env.xdg_runtime_dir.empty()) {
    std::string path = env.xdg_runtime_dir;
    if (path.back() != '/') path += '/';
    return path + kUserSocketName;
  }
  return "/tmp/gemmad-" + std::to_string(env.uid) + ".sock";
}

std::string resolve_socket_path(std::string_view flag, const SocketEnv& env,
                                const std::function<bool(const std::string&)>& exists) {
  if (!flag.empty()) return std::string(flag);
  const std::string own = default_listen_path(env);
  if (!env.gemmad_socket.empty() || exists(own)) return own;
  if (exists(kSystemSocketPath)) return kSystemSocketPath;
  return own;
}

std::string resolve_socket_path(std::string_view flag) {
  return resolve_socket_path(flag, socket_env(), [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  });
}

}  // namespace gemmad::ipc
