// See daemon_process.h.
#include "daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gemmad::bench {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_un unix_addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  return a;
}

bool socket_accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_un a = unix_addr(path);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<DaemonProcess> start_daemon(const std::string& exe, const std::string& model,
                                          const std::string& dir,
                                          const std::vector<std::string>& extra) {
  DaemonProcess d;
  d.socket = dir + "/s.sock";
  d.log = dir + "/gemmad.log";
  const std::string notify = dir + "/notify";
  ::unlink(notify.c_str());
  const int nfd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const sockaddr_un na = unix_addr(notify);
  if (nfd < 0 || ::bind(nfd, reinterpret_cast<const sockaddr*>(&na), sizeof(na)) != 0) {
    std::perror("notify socket");
    if (nfd >= 0) ::close(nfd);
    return std::nullopt;
  }
  std::vector<std::string> args = {exe, "--model", model, "--socket", d.socket, "--state-dir", dir};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto t0 = Clock::now();
  d.pid = ::fork();
  if (d.pid == 0) {
    ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
    const int lfd = ::open(d.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(lfd, 1);
    ::dup2(lfd, 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  bool ready = false;
  while (!ready) {
    pollfd p{nfd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char buf[4096];
      const ssize_t n = ::recv(nfd, buf, sizeof(buf) - 1, 0);
      if (n > 0) {
        buf[n] = 0;
        ready = std::strstr(buf, "READY=1") != nullptr;
        if (ready)
          d.ready_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      }
      continue;
    }
    int status = 0;
    if (::waitpid(d.pid, &status, WNOHANG) == d.pid) {
      std::fprintf(stderr, "gemmad exited before READY=1 (log %s)\n", d.log.c_str());
      ::close(nfd);
      return std::nullopt;
    }
    if (Clock::now() - t0 > std::chrono::seconds(120)) {
      std::fprintf(stderr, "gemmad: no READY=1 within 120 s (log %s)\n", d.log.c_str());
      break;
    }
  }
  ::close(nfd);
  if (ready && socket_accepts(d.socket)) return d;
  if (ready) std::fprintf(stderr, "READY=1 but %s refuses connections\n", d.socket.c_str());
  stop_daemon(d);
  return std::nullopt;
}

void stop_daemon(DaemonProcess& d) {
  if (d.pid <= 0) return;
  ::kill(d.pid, SIGTERM);
  int status = 0;
  ::waitpid(d.pid, &status, 0);
  d.pid = -1;
}

}  // namespace gemmad::bench
