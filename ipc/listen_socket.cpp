// Creating or adopting the daemon's listening Unix socket (see listen_socket.h).
#include "ipc/listen_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace gemmad::ipc {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Fills `addr` for `path`; false when the path does not fit sun_path with its terminating NUL.
bool make_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return true;
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int release() { return std::exchange(fd_, -1); }
  int get() const { return fd_; }

 private:
  int fd_;
};

// An existing `path`: remove it when it is a socket nobody listens on.
Status clear_stale_socket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return make_error(ErrorCode::kIo, "socket path " + path + ": lstat: " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "socket path " + path + " exists and is not a socket; not removing it");
  }
  FdCloser probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) {
    return make_error(ErrorCode::kIo, "socket(AF_UNIX): " + errno_text(errno));
  }
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return make_error(ErrorCode::kIo,
                      "another process is listening on " + path + " (is gemmad already running?)");
  }
  if (errno != ECONNREFUSED) {
    return make_error(ErrorCode::kIo,
                      "probing existing socket " + path + ": connect: " + errno_text(errno));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error(ErrorCode::kIo,
                      "removing stale socket " + path + ": unlink: " + errno_text(errno));
  }
  return {};
}

}  // namespace

Result<ListeningSocket> listen_unix_socket(const std::string& path, mode_t mode, int backlog) {
  sockaddr_un addr;
  if (!make_address(path, addr)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "socket path '" + path + "' is " + std::to_string(path.size()) +
                          " bytes; it must be 1 to " + std::to_string(sizeof(addr.sun_path) - 1));
  }
  GEMMAD_TRY(clear_stale_socket(path, addr));
  FdCloser fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return make_error(ErrorCode::kIo, "socket(AF_UNIX): " + errno_text(errno));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return make_error(ErrorCode::kIo, "bind " + path + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::chmod(path.c_str(), mode) != 0 || ::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return make_error(ErrorCode::kIo, "chmod " + path + ": " + errno_text(err));
  }
  if (::listen(fd.get(), backlog) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return make_error(ErrorCode::kIo, "listen " + path + ": " + errno_text(err));
  }
  ListeningSocket result;
  result.file = SocketFile{path, st.st_dev, st.st_ino};
  result.fd = fd.release();
  return result;
}

Status check_listening_unix_socket(int fd) {
  int value = 0;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &len) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fd " + std::to_string(fd) + " is not a socket: " + errno_text(errno));
  }
  if (value != AF_UNIX) {
    return make_error(ErrorCode::kInvalidArgument, "fd " + std::to_string(fd) +
                                                       " is a socket of domain " +
                                                       std::to_string(value) + ", not AF_UNIX");
  }
  len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) != 0 || value != SOCK_STREAM) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fd " + std::to_string(fd) + " is not a SOCK_STREAM socket");
  }
  len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) != 0 || value == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fd " + std::to_string(fd) + " is not listening");
  }
  // Inherited fds may lack close-on-exec; the daemon never wants children to hold it.
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  return {};
}

void remove_socket_file(const SocketFile& file) {
  if (file.path.empty()) return;
  struct stat st {};
  if (::lstat(file.path.c_str(), &st) != 0) return;
  if (st.st_dev == file.dev && st.st_ino == file.ino) ::unlink(file.path.c_str());
}

}  // namespace gemmad::ipc
