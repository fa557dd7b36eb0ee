// Process lifecycle glue for systemd: readiness/status/stopping notifications, the watchdog
// interval, and socket activation. All calls are no-ops when not run under systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace gemmad::daemon {

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
void notify_watchdog();
// Half of WATCHDOG_USEC when the unit sets WatchdogSec=, else nullopt.
std::optional<std::chrono::milliseconds> watchdog_interval();
// The first socket passed by systemd socket activation (LISTEN_FDS), if any.
std::optional<int> activated_socket();

}  // namespace gemmad::daemon
