// Socket path resolution for clients (see socket_path.h).
#include "clients/cpp/socket_path.h"

#include <sys/stat.h>

#include <cstdlib>

namespace gemmad::client {

std::string resolve_socket_path(const SocketPathSources& sources,
                                const std::function<bool(const std::string&)>& exists) {
  if (!sources.flag.empty()) return sources.flag;
  if (!sources.env_socket.empty()) return sources.env_socket;
  std::string user_path;
  if (!sources.xdg_runtime_dir.empty()) {
    user_path = sources.xdg_runtime_dir;
    if (user_path.back() != '/') user_path += '/';
    user_path += kUserSocketName;
    if (exists(user_path)) return user_path;
  }
  if (exists(kSystemSocketPath)) return kSystemSocketPath;
  return user_path.empty() ? std::string(kSystemSocketPath) : user_path;
}

std::string resolve_socket_path(std::string_view flag) {
  SocketPathSources sources;
  sources.flag = std::string(flag);
  if (const char* env = std::getenv("GEMMAD_SOCKET")) sources.env_socket = env;
  if (const char* env = std::getenv("XDG_RUNTIME_DIR")) sources.xdg_runtime_dir = env;
  return resolve_socket_path(sources, [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  });
}

}  // namespace gemmad::client
