// systemd integration through libsystemd's sd-daemon API.
#include "daemon/lifecycle.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdint>

namespace gemmad::daemon {

void notify_ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status.c_str(), static_cast<int>(getpid()));
}

void notify_status(const std::string& status) {
  sd_notifyf(0, "STATUS=%s", status.c_str());
}

void notify_stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void notify_watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

std::optional<std::chrono::milliseconds> watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::milliseconds(usec / 2000);
}

std::optional<int> activated_socket() {
  const int n = sd_listen_fds(1);
  if (n < 1) return std::nullopt;
  return SD_LISTEN_FDS_START;
}

}  // namespace gemmad::daemon
