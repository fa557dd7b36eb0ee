// Starting and stopping a real gemmad for the service benchmarks (start_bench,
// service_bench --resume): fork + exec with NOTIFY_SOCKET set to a datagram socket of ours, so
// "ready" is the daemon's own READY=1, as systemd sees it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace gemmad::bench {

struct DaemonProcess {
  pid_t pid = -1;
  std::string socket;   // the protobuf socket, in the state directory
  std::string log;      // the daemon's stdout and stderr
  double ready_ms = 0;  // fork to READY=1 received
};

// Starts `exe --model model --socket DIR/s.sock --state-dir DIR extra...` and waits (up to
// 120 s) for READY=1 and for the socket to accept a connection. Null, with a message on
// stderr, when the daemon exits first, does not get ready, or READY=1 comes with a socket
// that refuses connections.
std::optional<DaemonProcess> start_daemon(const std::string& exe, const std::string& model,
                                          const std::string& dir,
                                          const std::vector<std::string>& extra = {});
// SIGTERM, then waits for the process (the daemon drains and saves what it keeps).
void stop_daemon(DaemonProcess& d);

}  // namespace gemmad::bench
