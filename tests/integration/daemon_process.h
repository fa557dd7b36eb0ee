// A real gemmad process for integration tests: a temporary state directory and socket,
// started from the built binary, stopped with SIGTERM (drain) or SIGKILL (crash).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "clients/cpp/client.h"

namespace gemmad::testing {

// Paths of the built binaries and the tiny model, from the environment CTest sets.
std::string gemmad_binary();
std::string gemmactl_binary();
// A tiny synthetic model (written once per test binary with `gemmactl model synth`).
const std::string& tiny_model();

// Whether this kernel lets a process load a seccomp filter (not under qemu-user, nor in some
// sandboxes). Where it does not, DaemonProcess turns privacy.network_filter off, or gemmad
// would refuse to start; the policy's own test then skips.
bool seccomp_loads();

class DaemonProcess {
 public:
  // `config` is TOML appended to the generated config file, as dotted keys such as
  // `server.max_clients = 2`: limits for one test.
  explicit DaemonProcess(std::string config = "");
  ~DaemonProcess();

  // Runs gemmad under this command (e.g. {"/usr/bin/unshare", "-U", "--map-root-user"}).
  void set_wrapper(std::vector<std::string> wrapper) { wrapper_ = std::move(wrapper); }
  // Starts gemmad and waits until its socket answers Hello. Keeps the state dir across
  // restarts. Returns false (and logs stderr) if it did not come up.
  bool start();
  // SIGTERM and wait; returns the exit status (or -1).
  int stop();
  // SIGKILL and wait.
  void kill9();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& socket() const { return socket_; }
  const std::string& state_dir() const { return dir_; }
  std::string log() const;
  double last_start_ms() const { return start_ms_; }

  // A connected client that said Hello as `app`.
  client::Client connect(const std::string& app) const;

 private:
  std::string dir_, socket_, config_path_, log_path_;
  std::vector<std::string> wrapper_;
  pid_t pid_ = -1;
  double start_ms_ = 0;
};

// Runs a command, capturing stdout (and stderr if asked); returns its exit code.
int run_command(const std::vector<std::string>& argv, std::string* out, std::string* err = nullptr,
                const std::vector<std::string>& env = {});

}  // namespace gemmad::testing
